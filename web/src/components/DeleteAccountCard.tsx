import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { AccountClient } from "../api/account";
import { errorMessage, sessionEnded, splitFieldErrors } from "../messages";
import { ConfirmDialog } from "./ConfirmDialog";
import { PasswordField } from "./PasswordField";

/** Delete account: the password first, then a confirmation that says what goes with it (every
 * task, every session). `onDeleted` runs once the service has deleted it. */
export function DeleteAccountCard({
  account,
  email,
  onDeleted,
}: {
  account: AccountClient;
  email: string;
  onDeleted: () => void;
}) {
  const [password, setPassword] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [fieldError, setFieldError] = useState("");
  const [formError, setFormError] = useState("");
  const headingId = useId();
  const passwordRef = useRef<HTMLInputElement>(null);
  // Bumped to put the keyboard on the password after a refusal. An effect, so that it runs after
  // the closing dialog has handed the focus back to its opener (unmount cleanups come first).
  const [refused, setRefused] = useState(0);

  useEffect(() => {
    if (!refused) return;
    passwordRef.current?.focus();
    passwordRef.current?.select();
  }, [refused]);

  function ask(event: FormEvent) {
    event.preventDefault();
    setFormError("");
    if (password === "") {
      setFieldError("Enter your password to delete your account.");
      passwordRef.current?.focus();
      return;
    }
    setFieldError("");
    setConfirming(true);
  }

  async function confirm() {
    setDeleting(true);
    try {
      await account.deleteAccount(password);
      onDeleted();
    } catch (err) {
      setDeleting(false);
      setConfirming(false);
      if (sessionEnded(err)) return;
      const { byField, rest } = splitFieldErrors(err, ["password"]);
      setFieldError(byField.password ?? "");
      setFormError(rest.join(" ") || (byField.password ? "" : errorMessage(err, "Could not delete your account")));
      if (byField.password) setRefused((n) => n + 1);
    }
  }

  return (
    <section className="card account-card danger-card" aria-labelledby={headingId}>
      <h2 id={headingId} className="card-title">
        Delete account
      </h2>
      <p className="muted">
        Deletes your account and all your tasks for good, and signs you out everywhere. This can't be undone.
      </p>
      {formError && (
        <p className="alert alert-error" role="alert">
          {formError}
        </p>
      )}
      <form onSubmit={ask} noValidate className="account-form">
        <input type="text" name="username" autoComplete="username" value={email} readOnly hidden />
        <PasswordField
          label="Password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          error={fieldError}
          inputRef={passwordRef}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn-danger">
            Delete account…
          </button>
        </div>
      </form>
      {confirming && (
        <ConfirmDialog
          title="Delete your account?"
          confirmLabel={deleting ? "Deleting…" : "Delete account"}
          busy={deleting}
          onConfirm={() => void confirm()}
          onCancel={() => setConfirming(false)}
        >
          <p>
            The account <strong>{email}</strong> and <strong>all its tasks</strong> will be deleted, and every
            device signed out. This can't be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
