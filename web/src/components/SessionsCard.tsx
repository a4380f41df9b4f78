import { useId, useRef } from "react";
import type { SessionInfo } from "../api/account";
import { useNow } from "../hooks/useNow";
import { OTHERS, type useSessions } from "../hooks/useSessions";
import { describeUserAgent } from "../userAgent";
import { SessionList } from "./SessionList";

/** "Where you're signed in": the sessions list, ending one, and ending all but this one. Says
 * what happened through `announce` (the page's polite status region), and `onChanged` after a
 * session was ended here. */
export function SessionsCard({
  sessions: s,
  announce,
  onChanged,
}: {
  sessions: ReturnType<typeof useSessions>;
  announce: (message: string) => void;
  onChanged?: () => void;
}) {
  const now = useNow();
  const headingId = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const showing = s.status === "ready" || s.status === "refreshing";
  const others = s.sessions.filter((x) => !x.current).length;

  async function end(target: SessionInfo) {
    const index = s.sessions.filter((x) => !x.current).findIndex((x) => x.id === target.id);
    if (!(await s.end(target))) return;
    onChanged?.();
    announce(`Signed out ${describeUserAgent(target.user_agent).label}.`);
    // The button pressed is gone: the keyboard goes to the next Sign out, else the heading.
    requestAnimationFrame(() => {
      const buttons = listRef.current?.querySelectorAll<HTMLButtonElement>("button.session-end");
      const next = buttons?.[Math.min(index, buttons.length - 1)];
      (next ?? headingRef.current)?.focus();
    });
  }

  async function endOthers() {
    if (!(await s.endOthers())) return;
    onChanged?.();
    announce("Signed out everywhere else.");
    headingRef.current?.focus();
  }

  return (
    <section className="card account-card" aria-labelledby={headingId}>
      <h2 id={headingId} ref={headingRef} tabIndex={-1} className="card-title">
        Where you're signed in
      </h2>
      <p className="muted">
        Sign out anywhere you don't recognise or no longer use. It takes a few seconds to take effect there.
      </p>

      {s.actionError && (
        <div className="alert alert-error" role="alert">
          <span>{s.actionError}</span>
          <button type="button" className="btn btn-small btn-ghost" onClick={s.dismissActionError}>
            Dismiss
          </button>
        </div>
      )}

      <SessionList
        status={s.status}
        sessions={s.sessions}
        error={s.error}
        now={now}
        pending={s.pending}
        listRef={listRef}
        onRetry={s.reload}
        onEnd={(target) => void end(target)}
      />

      {showing && others > 0 && (
        <div className="form-actions">
          <button type="button" className="btn" onClick={() => void endOthers()} disabled={s.pending !== null}>
            {s.pending === OTHERS ? "Signing out…" : "Sign out everywhere else"}
          </button>
        </div>
      )}
      {s.status === "ready" && others === 0 && <p className="muted">You're signed in only here.</p>}
    </section>
  );
}
