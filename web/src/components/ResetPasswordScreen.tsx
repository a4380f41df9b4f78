import { useRef, useState, type FormEvent } from "react";
import type { EmailClient } from "../api/email";
import { ApiError, NetworkError } from "../api/errors";
import type { SessionManager } from "../api/session";
import { errorMessage, PASSWORD_HELP, splitFieldErrors } from "../messages";
import { queryParam } from "../navigation";
import { AuthLayout } from "./AuthLayout";
import { NavLink } from "./NavLink";
import { PasswordField } from "./PasswordField";

type Outcome = "form" | "changed" | "invalid";

interface Errors {
  new_password?: string;
  confirm?: string;
  form?: string;
  retry?: boolean;
}

/**
 * `/reset-password?token=…`, the page the reset mail links to: a new password, typed twice. The
 * token is only tried when the form is sent (the service has no other way to ask about it), so
 * an expired or used link is explained then, with the way to a new one. Afterwards every session
 * of the account has ended — this browser's too, if it was signed in to that account, which a
 * refresh here finds out before the page says so.
 */
export function ResetPasswordScreen({
  email,
  session,
  signedIn,
}: {
  email: EmailClient;
  session: Pick<SessionManager, "refresh">;
  signedIn: boolean;
}) {
  const [token] = useState(() => queryParam("token"));
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [outcome, setOutcome] = useState<Outcome>("form");
  const passwordRef = useRef<HTMLInputElement>(null);
  const confirmRef = useRef<HTMLInputElement>(null);

  function focusFirst(found: Errors) {
    if (found.new_password) passwordRef.current?.focus();
    else if (found.confirm) confirmRef.current?.focus();
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    const local: Errors = {};
    if (password === "") local.new_password = "Choose a new password.";
    if (confirm === "") local.confirm = "Type the new password again.";
    else if (password !== "" && confirm !== password) local.confirm = "The two passwords are not the same.";
    setErrors(local);
    if (Object.keys(local).length) {
      focusFirst(local);
      return;
    }
    setBusy(true);
    try {
      await email.resetPassword({ token, newPassword: password });
      // This browser's session ended too if it belonged to the account: a refused refresh signs
      // it out here before "Sign in" is offered (another account's session refreshes as usual).
      if (signedIn) await session.refresh().catch(() => undefined);
      setPassword("");
      setConfirm("");
      setOutcome("changed");
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_token_link") {
        setOutcome("invalid");
        return;
      }
      const { byField, rest } = splitFieldErrors(err, ["new_password"]);
      const form =
        rest.join(" ") || (byField.new_password ? undefined : errorMessage(err, "Could not change your password"));
      const found: Errors = { ...byField, retry: err instanceof NetworkError };
      if (form) found.form = form;
      setErrors(found);
      focusFirst(found);
    } finally {
      setBusy(false);
    }
  }

  if (outcome === "changed") {
    return (
      <AuthLayout title="Password changed" focusKey="changed">
        <p className="alert alert-success" role="status">
          Your new password is set, and every session of your account has ended.
        </p>
        <p className="muted">Sign in with your new password.</p>
        <NavLink to="tasks" replace className="btn btn-primary btn-block">
          {signedIn ? "Go to your tasks" : "Sign in"}
        </NavLink>
      </AuthLayout>
    );
  }

  if (!token || outcome === "invalid") {
    return (
      <AuthLayout title={token ? "This link can no longer be used" : "This link is incomplete"} focusKey={outcome}>
        <p className="alert alert-error" role="alert">
          {token
            ? "This password reset link has expired or was already used."
            : "This address has no reset code in it. Perhaps only part of the link was copied."}
        </p>
        <p className="muted">
          A reset link works once, for 30 minutes. Ask for a new one and use the link in the newest email.
        </p>
        <NavLink to="forgot-password" replace className="btn btn-primary btn-block">
          Ask for a new link
        </NavLink>
        <p className="auth-switch">
          <NavLink to="tasks" replace className="link">
            {signedIn ? "Back to your tasks" : "Back to sign in"}
          </NavLink>
        </p>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout
      title="Choose a new password"
      lead="Afterwards you will be signed out everywhere, and sign in with the new password."
    >
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
      <form onSubmit={submit} noValidate>
        <PasswordField
          label="New password"
          autoComplete="new-password"
          help={PASSWORD_HELP}
          value={password}
          onChange={setPassword}
          error={errors.new_password}
          inputRef={passwordRef}
          autoFocus
        />
        <PasswordField
          label="Confirm new password"
          autoComplete="new-password"
          value={confirm}
          onChange={setConfirm}
          error={errors.confirm}
          inputRef={confirmRef}
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Changing password…" : "Change password"}
        </button>
      </form>
    </AuthLayout>
  );
}
