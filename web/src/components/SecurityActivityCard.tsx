import { useEffect, useId, useRef } from "react";
import { useNow } from "../hooks/useNow";
import type { useSecurityEvents } from "../hooks/useSecurityEvents";
import { EventList } from "./EventList";
import { LoadMore } from "./LoadMore";

/** "Security activity": what happened to the account lately (sign-ins, failed attempts, password
 * changes), newest first, with older events a page at a time. Says what "Show more" brought
 * through `announce` (the page's polite status region). */
export function SecurityActivityCard({
  events: e,
  announce,
}: {
  events: ReturnType<typeof useSecurityEvents>;
  announce: (message: string) => void;
}) {
  const now = useNow();
  const headingId = useId();
  const listRef = useRef<HTMLUListElement>(null);

  // Where the keyboard goes once "Show more" has brought its page: the first new event (Tab from
  // there reaches "Show more" again, if anything is left; the button may be gone, or lost the
  // focus while it waited disabled). Set before the request and applied by the effect after the
  // render that adds the events: a frame after the request resolves, that render had not always
  // happened yet, and the focus stayed nowhere.
  const focusFrom = useRef<number | null>(null);
  useEffect(() => {
    const index = focusFrom.current;
    if (index === null) return;
    const first = listRef.current?.children[index];
    if (first instanceof HTMLElement) {
      focusFrom.current = null;
      first.focus();
    }
  }, [e.events]);

  async function showMore() {
    focusFrom.current = listRef.current?.children.length ?? 0;
    const added = await e.loadMore();
    if (added === 0) {
      focusFrom.current = null;
      return;
    }
    announce(`${added} older event${added === 1 ? "" : "s"} shown.`);
  }

  return (
    <section className="card account-card" aria-labelledby={headingId}>
      <h2 id={headingId} className="card-title">
        Security activity
      </h2>
      <p className="muted">
        Sign-ins and changes to your account, newest first. If something here wasn't you, change your password and sign
        out everywhere else.
      </p>
      <EventList
        status={e.status}
        events={e.events}
        error={e.error}
        now={now}
        listRef={listRef}
        onRetry={e.reload}
      />
      {e.hasMore && (
        <LoadMore label="Show more" busy={e.busy} error={e.moreError} onLoadMore={() => void showMore()} />
      )}
    </section>
  );
}
