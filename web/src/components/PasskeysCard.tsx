import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Passkey } from "../api/passkeys";
import { useNow } from "../hooks/useNow";
import { ADDING, type usePasskeys } from "../hooks/usePasskeys";
import { ConfirmDialog } from "./ConfirmDialog";
import { Field } from "./Field";
import { When } from "./When";

/**
 * "Passkeys": the account's passkeys (name, added, last used), adding one on this device, and
 * removing one after a confirmation. Every account keeps its password, so removing a passkey never
 * locks anyone out, and the confirmation says so. Says what happened through `announce` (the
 * page's polite status region) and calls `onChanged` after a passkey was added or removed.
 */
export function PasskeysCard({
  passkeys: p,
  supported,
  totpEnabled,
  announce,
  onChanged,
}: {
  passkeys: ReturnType<typeof usePasskeys>;
  /** Whether this browser can make passkeys at all. */
  supported: boolean;
  totpEnabled: boolean;
  announce: (message: string) => void;
  onChanged?: () => void;
}) {
  const now = useNow();
  const headingId = useId();
  const noteId = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const [name, setName] = useState("");
  const [removing, setRemoving] = useState<Passkey | null>(null);
  /** Where the last removed passkey was in the list (a new object each time, to run the effect). */
  const [removedAt, setRemovedAt] = useState<{ index: number } | null>(null);
  const adding = p.pending === ADDING;

  async function add(event: FormEvent) {
    event.preventDefault();
    if (p.pending !== null) return;
    const added = await p.add(name);
    if (!added) {
      requestAnimationFrame(() => {
        if (nameRef.current?.getAttribute("aria-invalid") === "true") nameRef.current.focus();
      });
      return;
    }
    setName("");
    onChanged?.();
    announce(`Passkey “${added.name}” added. You can sign in with it now.`);
    requestAnimationFrame(() => {
      const items = listRef.current?.querySelectorAll<HTMLElement>("li[data-id]") ?? [];
      [...items].find((item) => item.dataset.id === added.id)?.focus();
    });
  }

  async function remove(target: Passkey) {
    const index = p.passkeys.findIndex((x) => x.id === target.id);
    const gone = await p.remove(target);
    setRemoving(null);
    if (!gone) return;
    onChanged?.();
    announce(`Passkey “${target.name}” removed.`);
    setRemovedAt({ index });
  }

  // The button pressed is gone: the keyboard goes to the next Remove, else the heading. An effect,
  // so that it runs once the confirmation has closed (closing a modal dialog moves the focus).
  useEffect(() => {
    if (!removedAt) return;
    const buttons = listRef.current?.querySelectorAll<HTMLButtonElement>("button.passkey-remove");
    const next = buttons?.[Math.min(removedAt.index, buttons.length - 1)];
    (next ?? headingRef.current)?.focus();
  }, [removedAt]);

  const showing = p.status === "ready" || p.status === "refreshing";
  return (
    <section className="card account-card" aria-labelledby={headingId}>
      <h2 id={headingId} ref={headingRef} tabIndex={-1} className="card-title">
        Passkeys
      </h2>
      <p className="muted">
        Sign in with your fingerprint, face or screen lock instead of typing a password. Your password keeps working
        too.
      </p>

      {p.actionError && (
        <div className="alert alert-error" role="alert">
          <span>{p.actionError}</span>
          <button type="button" className="btn btn-small btn-ghost" onClick={p.dismissActionError}>
            Dismiss
          </button>
        </div>
      )}
      <p role="status" className={p.note ? "alert alert-info" : "sr-only"}>
        {p.note}
      </p>

      {p.status === "loading" || (p.status === "refreshing" && p.passkeys.length === 0) ? (
        <div className="list-state" role="status">
          <div className="spinner small" aria-hidden="true" />
          <span>Loading passkeys…</span>
        </div>
      ) : p.status === "error" ? (
        <div className="list-state">
          <div className="alert alert-error" role="alert">
            <span>{p.error}</span>
            <button type="button" className="btn btn-small" onClick={p.reload}>
              Try again
            </button>
          </div>
        </div>
      ) : p.passkeys.length === 0 ? (
        <p className="muted">No passkeys yet.</p>
      ) : (
        <ul
          className={p.status === "refreshing" ? "sessions refreshing" : "sessions"}
          aria-label="Passkeys"
          aria-busy={p.status === "refreshing" || undefined}
          ref={listRef}
        >
          {p.passkeys.map((passkey) => (
            <PasskeyItem
              key={passkey.id}
              passkey={passkey}
              now={now}
              removing={p.pending === passkey.id}
              disabled={p.pending !== null}
              onRemove={() => setRemoving(passkey)}
            />
          ))}
        </ul>
      )}

      {showing || p.status === "error" ? (
        <form onSubmit={add} noValidate className="account-form passkey-add">
          <Field
            label="Name for a new passkey"
            hint="Optional"
            error={p.nameError}
            inputRef={nameRef}
            input={{
              type: "text",
              autoComplete: "off",
              placeholder: "e.g. Work laptop",
              maxLength: 64,
              value: name,
              onChange: (e) => setName(e.target.value),
              disabled: !supported,
            }}
          />
          <div className="form-actions">
            <button
              type="submit"
              className="btn btn-primary"
              disabled={!supported || p.pending !== null}
              aria-describedby={supported ? undefined : noteId}
            >
              {adding ? "Waiting for your device…" : "Add a passkey"}
            </button>
          </div>
          {!supported && (
            <p id={noteId} className="field-help">
              This browser can't make passkeys. Use a current version of Chrome, Edge, Firefox or Safari.
            </p>
          )}
        </form>
      ) : null}

      {removing && (
        <ConfirmDialog
          title="Remove this passkey?"
          confirmLabel={p.pending === removing.id ? "Removing…" : "Remove passkey"}
          busy={p.pending === removing.id}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving(null)}
        >
          <p>
            <strong className="break">“{removing.name}”</strong> will no longer sign you in. You can still sign in with
            your password{totpEnabled ? " and a code from your authenticator app" : ""}.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function PasskeyItem(props: {
  passkey: Passkey;
  now: number;
  removing: boolean;
  disabled: boolean;
  onRemove: () => void;
}) {
  const { passkey, now } = props;
  const detailsId = useId();
  return (
    <li className="session passkey" data-id={passkey.id} tabIndex={-1}>
      <KeyIcon />
      <div className="session-body">
        <p className="session-device">
          <span className="break">{passkey.name}</span>
        </p>
        <p className="session-meta" id={detailsId}>
          <span>
            Added <When iso={passkey.created_at} now={now} />
          </span>
          <span>
            {passkey.last_used_at ? (
              <>
                Last used <When iso={passkey.last_used_at} now={now} />
              </>
            ) : (
              "Not used yet"
            )}
          </span>
        </p>
      </div>
      <button
        type="button"
        className="btn btn-small passkey-remove session-end"
        aria-label={`Remove passkey “${passkey.name}”`}
        aria-describedby={detailsId}
        onClick={props.onRemove}
        disabled={props.disabled}
      >
        {props.removing ? "Removing…" : "Remove"}
      </button>
    </li>
  );
}

export function KeyIcon({ className = "session-icon" }: { className?: string }) {
  return (
    <svg
      className={className}
      viewBox="0 0 24 24"
      width="24"
      height="24"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <circle cx="7.5" cy="15.5" r="4.5" />
      <path d="M10.7 12.3 20 3m-3 3 2.5 2.5M14.5 8.5 17 11" />
    </svg>
  );
}
