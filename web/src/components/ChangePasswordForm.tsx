import { useId, useRef, useState, type FormEvent } from "react";
import type { AccountClient } from "../api/account";
import { NetworkError } from "../api/errors";
import { errorMessage, PASSWORD_HELP, sessionEnded, splitFieldErrors } from "../messages";
import { PasswordField } from "./PasswordField";

type Fields = "current_password" | "new_password";
const FIELDS: readonly Fields[] = ["current_password", "new_password"];

interface Errors extends Partial<Record<Fields, string>> {
  form?: string;
  retry?: boolean;
}

/** Change password: the current one and a new one. On success this device stays signed in and
 * every other session ends (`onChanged` lets the page show that). */
export function ChangePasswordForm({
  account,
  email,
  onChanged,
}: {
  account: AccountClient;
  email: string;
  onChanged: () => void;
}) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [changed, setChanged] = useState(false);
  const headingId = useId();
  const currentRef = useRef<HTMLInputElement>(null);
  const nextRef = useRef<HTMLInputElement>(null);

  function focusFirst(found: Errors) {
    if (found.current_password) currentRef.current?.focus();
    else if (found.new_password) nextRef.current?.focus();
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    setChanged(false);
    const local: Errors = {};
    if (current === "") local.current_password = "Enter your current password.";
    if (next === "") local.new_password = "Choose a new password.";
    setErrors(local);
    if (Object.keys(local).length) {
      focusFirst(local);
      return;
    }
    setBusy(true);
    try {
      await account.changePassword({ currentPassword: current, newPassword: next });
      setCurrent("");
      setNext("");
      setChanged(true);
      onChanged();
    } catch (err) {
      if (sessionEnded(err)) return;
      const { byField, rest } = splitFieldErrors(err, FIELDS);
      const form =
        rest.join(" ") ||
        (Object.keys(byField).length ? undefined : errorMessage(err, "Could not change your password"));
      const found: Errors = { ...byField, form, retry: err instanceof NetworkError };
      setErrors(found);
      focusFirst(found);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card account-card" aria-labelledby={headingId}>
      <h2 id={headingId} className="card-title">
        Change password
      </h2>
      <p className="muted">You stay signed in here; everywhere else you will be signed out.</p>
      {changed && <p className="alert alert-success">Password changed. You have been signed out everywhere else.</p>}
      {errors.form && (
        <div className="alert alert-error" role="alert">
          <span>{errors.form}</span>
          {errors.retry && (
            <button type="button" className="btn btn-small" onClick={() => void submit()} disabled={busy}>
              Try again
            </button>
          )}
        </div>
      )}
      <form onSubmit={submit} noValidate className="account-form">
        {/* For password managers: which account this new password belongs to. */}
        <input type="text" name="username" autoComplete="username" value={email} readOnly hidden />
        <PasswordField
          label="Current password"
          autoComplete="current-password"
          value={current}
          onChange={setCurrent}
          error={errors.current_password}
          inputRef={currentRef}
        />
        <PasswordField
          label="New password"
          autoComplete="new-password"
          help={PASSWORD_HELP}
          value={next}
          onChange={setNext}
          error={errors.new_password}
          inputRef={nextRef}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Changing password…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}
