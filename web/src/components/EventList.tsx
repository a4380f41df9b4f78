import type { Ref } from "react";
import type { SecurityEvent } from "../api/account";
import type { EventsStatus } from "../hooks/useSecurityEvents";
import { describeEvent, FLAG_TEXT, type EventFlag } from "../securityEvents";
import { describeUserAgent } from "../userAgent";
import { When } from "./When";

/** The person's security events, or why there are none to show: loading, none yet, or a failure
 * with a retry. */
export function EventList({
  listRef,
  ...props
}: {
  status: EventsStatus;
  events: SecurityEvent[];
  error: string;
  now: number;
  listRef?: Ref<HTMLUListElement>;
  onRetry: () => void;
}) {
  const { status, events } = props;
  if (status === "loading" || (status === "refreshing" && events.length === 0)) {
    return (
      <div className="list-state" role="status">
        <div className="spinner small" aria-hidden="true" />
        <span>Loading security activity…</span>
      </div>
    );
  }
  if (status === "error") {
    return (
      <div className="list-state">
        <div className="alert alert-error" role="alert">
          <span>{props.error}</span>
          <button type="button" className="btn btn-small" onClick={props.onRetry}>
            Try again
          </button>
        </div>
      </div>
    );
  }
  if (events.length === 0) {
    return <p className="list-state empty">No security activity yet.</p>;
  }
  return (
    <ul
      className={status === "refreshing" ? "events refreshing" : "events"}
      aria-label="Security events"
      aria-busy={status === "refreshing" || undefined}
      ref={listRef}
    >
      {events.map((e) => (
        <EventItem key={e.id} event={e} now={props.now} />
      ))}
    </ul>
  );
}

/** One event: what happened (marked when it failed or looked wrong), when, and from where. The
 * item can take the focus (tabIndex -1): "Show more" puts it on the first event it brought. */
function EventItem({ event, now }: { event: SecurityEvent; now: number }) {
  const { label, flag } = describeEvent(event.type);
  const device = event.user_agent ? describeUserAgent(event.user_agent).label : null;
  return (
    <li className={flag ? "event flagged" : "event"} tabIndex={-1} data-type={event.type}>
      <EventIcon flag={flag} />
      <div className="event-body">
        <p className="event-label">
          <span>{label}</span>
          {flag && (
            <span className="badge badge-danger">
              <span className="sr-only">, </span>
              {FLAG_TEXT[flag]}
            </span>
          )}
        </p>
        <p className="event-meta">
          <When iso={event.at} now={now} />
          {event.ip && <span>IP {event.ip}</span>}
          {device && <span title={event.user_agent ?? undefined}>{device}</span>}
        </p>
      </div>
    </li>
  );
}

function EventIcon({ flag }: { flag: EventFlag | null }) {
  return (
    <svg className="event-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      {flag ? (
        // a warning triangle
        <path
          d="M12 2.5c.6 0 1.1.3 1.4.8l8.7 15.2c.6 1.1-.2 2.5-1.4 2.5H3.3c-1.2 0-2-1.4-1.4-2.5L10.6 3.3c.3-.5.8-.8 1.4-.8zm0 1.8L3.6 19.2h16.8L12 4.3zM11.1 9h1.8v5.5h-1.8V9zm0 7h1.8v1.8h-1.8V16z"
          fill="currentColor"
        />
      ) : (
        // a shield
        <path
          d="M12 2l8 3v6.2c0 5-3.4 9.4-8 10.8-4.6-1.4-8-5.8-8-10.8V5l8-3zm0 1.6L5.5 6v5.2c0 4.2 2.7 7.9 6.5 9.2 3.8-1.3 6.5-5 6.5-9.2V6L12 3.6z"
          fill="currentColor"
        />
      )}
    </svg>
  );
}
