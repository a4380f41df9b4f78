import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, NetworkError } from "../api/errors";
import { tidyCode } from "../api/mfa";
import type { SessionManager } from "../api/session";
import { errorMessage, NETWORK_MESSAGE } from "../messages";
import { AuthLayout } from "./AuthLayout";
import { Field } from "./Field";

interface FormError {
  message: string;
  retry: boolean;
}

/**
 * The second step of a sign-in whose password was right: one field for the code the authenticator
 * app shows (digits, `autocomplete="one-time-code"` so a phone can offer it), or — "Use a recovery
 * code" — one of the saved recovery codes in the same field. A wrong code can be tried again with
 * the same `mfaToken`; once the token is no good (five minutes, or too many tries) `onRestart` goes
 * back to the password with a reason. The keyboard starts in the field.
 */
export function MfaCodeStep({
  session,
  mfaToken,
  onRestart,
  onCancel,
}: {
  session: Pick<SessionManager, "signInWithCode">;
  mfaToken: string;
  onRestart: (reason: string) => void;
  onCancel: () => void;
}) {
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState("");
  const [formError, setFormError] = useState<FormError | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  // A new step: the keyboard goes to its one field (and again when the kind of code changes).
  useEffect(() => inputRef.current?.focus(), [recovery]);

  function switchKind() {
    setRecovery((r) => !r);
    setCode("");
    setFieldError("");
    setFormError(null);
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    setFormError(null);
    const typed = tidyCode(code);
    let local = "";
    if (typed === "") local = recovery ? "Enter one of your recovery codes." : "Enter the 6-digit code from your app.";
    else if (!recovery && /^\d+$/.test(typed) && typed.length !== 6) local = "The code has 6 digits.";
    setFieldError(local);
    if (local) {
      inputRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      await session.signInWithCode({ mfaToken, code: typed });
      // Success: App swaps this screen for the page that was asked for.
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === "invalid_token") {
        onRestart("The time to enter a code ran out. Sign in again.");
        return;
      }
      if (err instanceof ApiError && err.code === "invalid_credentials") {
        setFieldError(
          recovery
            ? "That recovery code didn't work. Check it, or use a code from your app. Each recovery code works once."
            : "That code didn't work. Enter the code your app shows now.",
        );
        inputRef.current?.focus();
        inputRef.current?.select();
        return;
      }
      if (err instanceof NetworkError) setFormError({ message: NETWORK_MESSAGE, retry: true });
      else {
        const retry = !(err instanceof ApiError) || err.status >= 500;
        setFormError({ message: errorMessage(err, "Could not sign in"), retry });
      }
    }
  }

  return (
    <AuthLayout
      title="Two-step verification"
      lead={
        recovery
          ? "Enter one of the recovery codes you saved when you set up your authenticator app."
          : "Open your authenticator app and enter the 6-digit code it shows for Tasks."
      }
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
          label={recovery ? "Recovery code" : "Authentication code"}
          help={recovery ? "Each code works once. Capitals, spaces and dashes don't matter." : undefined}
          error={fieldError}
          inputRef={inputRef}
          className="code-field"
          input={{
            type: "text",
            inputMode: recovery ? "text" : "numeric",
            autoComplete: recovery ? "off" : "one-time-code",
            autoCapitalize: "none",
            autoCorrect: "off",
            spellCheck: false,
            maxLength: recovery ? 32 : 12,
            value: code,
            onChange: (e) => setCode(e.target.value),
          }}
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Checking…" : "Verify"}
        </button>
      </form>
      <p className="auth-switch">
        <button type="button" className="link" onClick={switchKind}>
          {recovery ? "Use a code from your authenticator app" : "Lost your phone? Use a recovery code"}
        </button>
      </p>
      <p className="auth-switch">
        <button type="button" className="link" onClick={onCancel} disabled={busy}>
          Back to sign in
        </button>
      </p>
    </AuthLayout>
  );
}
