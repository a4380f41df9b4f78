import { useId, useRef } from "react";
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

  async function showMore() {
    const before = listRef.current?.children.length ?? 0;
    const added = await e.loadMore();
    if (added === 0) return;
    announce(`${added} older event${added === 1 ? "" : "s"} shown.`);
    // The keyboard goes to the first new event (Tab from there reaches "Show more" again, if
    // anything is left); the button may be gone, or lost the focus while it waited disabled.
    requestAnimationFrame(() => {
      const first = listRef.current?.children[before];
      if (first instanceof HTMLElement) first.focus();
    });
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
