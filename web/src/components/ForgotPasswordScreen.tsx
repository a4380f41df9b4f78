import { useRef, useState, type FormEvent } from "react";
import type { EmailClient } from "../api/email";
import { NetworkError } from "../api/errors";
import { errorMessage } from "../messages";
import { handedOver } from "../navigation";
import { AuthLayout } from "./AuthLayout";
import { Field } from "./Field";
import { NavLink } from "./NavLink";

/**
 * "Forgot password?": asks for the account's email address and has a reset link mailed to it.
 * The service answers the same whether or not an account has the address, and so does this page:
 * "If an account exists for …". The sign-in form hands over what was typed in its Email field.
 */
export function ForgotPasswordScreen({ email: client, signedIn }: { email: EmailClient; signedIn: boolean }) {
  const [email, setEmail] = useState(() => handedOver("email"));
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState("");
  const [formError, setFormError] = useState<{ message: string; retry: boolean } | null>(null);
  /** The address the last link was asked for (the confirmation is on show). */
  const [sentTo, setSentTo] = useState("");
  /** Bumped by each request that went through, so asking again moves the focus again. */
  const [sends, setSends] = useState(0);
  const emailRef = useRef<HTMLInputElement>(null);

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    const address = email.trim();
    setFormError(null);
    // Only what cannot be an address is stopped here; the service decides the rest, silently.
    const local =
      address === ""
        ? "Enter your email address."
        : address.includes("@")
          ? ""
          : "Enter a valid email address, like name@example.com.";
    setFieldError(local);
    if (local) {
      emailRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      await client.requestPasswordReset(address);
      setSentTo(address);
      setSends((n) => n + 1);
    } catch (err) {
      setFormError({
        message: errorMessage(err, "Could not ask for a reset link"),
        retry: err instanceof NetworkError,
      });
      emailRef.current?.focus();
    } finally {
      setBusy(false);
    }
  }

  function tryAnotherAddress() {
    setSentTo("");
    requestAnimationFrame(() => emailRef.current?.select());
  }

  if (sentTo) {
    return (
      <AuthLayout title="Check your email" focusKey={String(sends)}>
        <p className="alert alert-success" role="status">
          <span>
            If an account exists for <strong className="break">{sentTo}</strong>, a link to choose a new password is on
            its way.
          </span>
        </p>
        <p className="muted">
          The link works once, for 30 minutes. Nothing in a few minutes? Look in your spam folder, check the address,
          or ask for another link.
        </p>
        <div className="auth-actions">
          <button type="button" className="btn" onClick={() => void submit()} disabled={busy}>
            {busy ? "Sending…" : "Send another link"}
          </button>
          <button type="button" className="btn" onClick={tryAnotherAddress}>
            Use another address
          </button>
        </div>
        <p className="auth-switch">
          <NavLink to="tasks" className="link">
            {signedIn ? "Back to your tasks" : "Back to sign in"}
          </NavLink>
        </p>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout
      title="Forgot your password?"
      lead="Enter the email address of your account and we'll send you a link to choose a new password."
    >
      {formError && (
        <div className="alert alert-error" role="alert">
          <span>{formError.message}</span>
          {formError.retry && (
            <button type="button" className="btn btn-small" onClick={() => void submit()} disabled={busy}>
              Try again
            </button>
          )}
        </div>
      )}
      <form onSubmit={submit} noValidate>
        <Field
          label="Email"
          error={fieldError || undefined}
          inputRef={emailRef}
          input={{
            type: "email",
            autoComplete: "email",
            inputMode: "email",
            autoCapitalize: "none",
            spellCheck: false,
            autoFocus: true,
            required: true,
            value: email,
            onChange: (e) => setEmail(e.target.value),
          }}
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Sending link…" : "Send reset link"}
        </button>
      </form>
      <p className="auth-switch">
        Remembered it?{" "}
        <NavLink to="tasks" className="link">
          {signedIn ? "Back to your tasks" : "Back to sign in"}
        </NavLink>
      </p>
    </AuthLayout>
  );
}
