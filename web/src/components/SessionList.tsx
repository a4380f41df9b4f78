import { useId, type Ref } from "react";
import type { SessionInfo } from "../api/account";
import type { SessionsStatus } from "../hooks/useSessions";
import { describeUserAgent, type DeviceKind } from "../userAgent";
import { When } from "./When";

/** The person's sessions, or why there are none to show: loading, or a failure with a retry. */
export function SessionList({
  listRef,
  ...props
}: {
  status: SessionsStatus;
  sessions: SessionInfo[];
  error: string;
  now: number;
  /** The id of the session being ended, if any (every Sign out waits meanwhile). */
  pending: string | null;
  listRef?: Ref<HTMLUListElement>;
  onRetry: () => void;
  onEnd: (session: SessionInfo) => void;
}) {
  const { status, sessions } = props;
  if (status === "loading" || (status === "refreshing" && sessions.length === 0)) {
    return (
      <div className="list-state" role="status">
        <div className="spinner small" aria-hidden="true" />
        <span>Loading sessions…</span>
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
  return (
    <ul
      className={status === "refreshing" ? "sessions refreshing" : "sessions"}
      aria-label="Sessions"
      aria-busy={status === "refreshing" || undefined}
      ref={listRef}
    >
      {sessions.map((s) => (
        <SessionItem
          key={s.id}
          session={s}
          now={props.now}
          ending={props.pending === s.id}
          disabled={props.pending !== null}
          onEnd={() => props.onEnd(s)}
        />
      ))}
    </ul>
  );
}

/** One session: the device and browser, where from, when it was used; Sign out unless it is this
 * one (the top bar's Sign out is for that). */
function SessionItem(props: {
  session: SessionInfo;
  now: number;
  ending: boolean;
  disabled: boolean;
  onEnd: () => void;
}) {
  const { session, now } = props;
  const device = describeUserAgent(session.user_agent);
  const detailsId = useId();
  return (
    <li className={session.current ? "session current" : "session"}>
      <DeviceIcon kind={device.kind} />
      <div className="session-body">
        <p className="session-device">
          <span title={session.user_agent ?? undefined}>{device.label}</span>
          {session.current && (
            <span className="badge">
              <span className="sr-only">, </span>This device
            </span>
          )}
        </p>
        <p className="session-meta" id={detailsId}>
          {session.ip && <span>IP {session.ip}</span>}
          <span>
            Last used <When iso={session.last_used_at} now={now} />
          </span>
        </p>
        <p className="session-meta">
          <span>
            Signed in <When iso={session.created_at} now={now} />
          </span>
          {session.expires_at && (
            <span>
              Expires <When iso={session.expires_at} now={now} />
            </span>
          )}
        </p>
      </div>
      {!session.current && (
        <button
          type="button"
          className="btn btn-small session-end"
          aria-label={`Sign out ${device.label}`}
          aria-describedby={detailsId}
          onClick={props.onEnd}
          disabled={props.disabled}
        >
          {props.ending ? "Signing out…" : "Sign out"}
        </button>
      )}
    </li>
  );
}

function DeviceIcon({ kind }: { kind: DeviceKind }) {
  return (
    <svg className="session-icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      {kind === "computer" ? (
        <path
          d="M4 5h16a1 1 0 011 1v10a1 1 0 01-1 1h-6v2h3v1.5H7V19h3v-2H4a1 1 0 01-1-1V6a1 1 0 011-1zm.5 1.5v9h15v-9h-15z"
          fill="currentColor"
        />
      ) : kind === "phone" || kind === "tablet" ? (
        <path
          d={
            kind === "phone"
              ? "M8 2h8a2 2 0 012 2v16a2 2 0 01-2 2H8a2 2 0 01-2-2V4a2 2 0 012-2zm0 1.5a.5.5 0 00-.5.5v16c0 .3.2.5.5.5h8c.3 0 .5-.2.5-.5V4a.5.5 0 00-.5-.5H8zm2.5 14.5h3v1.5h-3V18z"
              : "M5 2h14a2 2 0 012 2v16a2 2 0 01-2 2H5a2 2 0 01-2-2V4a2 2 0 012-2zm0 1.5a.5.5 0 00-.5.5v16c0 .3.2.5.5.5h14c.3 0 .5-.2.5-.5V4a.5.5 0 00-.5-.5H5zm5.5 14.5h3v1.5h-3V18z"
          }
          fill="currentColor"
        />
      ) : (
        <path
          d="M12 2a10 10 0 110 20 10 10 0 010-20zm0 1.5a8.5 8.5 0 00-7.9 5.5h15.8A8.5 8.5 0 0012 3.5zM3.6 10.5a8.6 8.6 0 000 3h16.8a8.6 8.6 0 000-3H3.6zm.5 4.5a8.5 8.5 0 0015.8 0H4.1z"
          fill="currentColor"
        />
      )}
    </svg>
  );
}
