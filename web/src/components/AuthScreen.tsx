import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError, NetworkError } from "../api/errors";
import type { PasskeysClient } from "../api/passkeys";
import { MfaRequiredError, type SessionManager } from "../api/session";
import { ceremonyCancelled } from "../api/webauthn";
import { errorMessage, NETWORK_MESSAGE, PASSWORD_HELP, splitFieldErrors } from "../messages";
import { Field } from "./Field";
import { AuthLayout } from "./AuthLayout";
import { MfaCodeStep } from "./MfaCodeStep";
import { NavLink } from "./NavLink";
import { KeyIcon } from "./PasskeysCard";
import { PasswordField } from "./PasswordField";

type Mode = "signin" | "signup";
type Fields = "email" | "password" | "name";
const FIELDS: readonly Fields[] = ["email", "password", "name"];

interface FormError {
  message: string;
  retry: boolean;
}

/** Why the sign-in form is on show, when there is something to say about it. */
const NOTICES = {
  expired: "Your session has ended. Please sign in again.",
  deleted: "Your account and all its tasks have been deleted.",
} as const;

/** Why a passkey sign-in did not work, in words. */
function passkeyFailure(err: unknown): FormError {
  if (err instanceof NetworkError) return { message: NETWORK_MESSAGE, retry: false };
  if (err instanceof ApiError && err.code === "invalid_credentials") {
    return {
      message: "That passkey wasn't accepted. It may have been removed from your account: sign in with your password.",
      retry: false,
    };
  }
  if (err instanceof ApiError) return { message: errorMessage(err, "Could not sign in with a passkey"), retry: false };
  return { message: "This browser could not use a passkey. Sign in with your password.", retry: false };
}

export function AuthScreen({
  session,
  passkeys,
  notice,
}: {
  session: SessionManager;
  passkeys: PasskeysClient;
  notice?: keyof typeof NOTICES | undefined;
}) {
  const [mode, setMode] = useState<Mode>("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Fields, string>>>({});
  const [formError, setFormError] = useState<FormError | null>(null);
  /** The password was right and a code is wanted: the token for the code step. */
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [passkeyBusy, setPasskeyBusy] = useState(false);
  /** A quiet word that is not an error (the passkey prompt was closed). */
  const [note, setNote] = useState("");
  const passkeyNoteId = useId();
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const signup = mode === "signup";

  useEffect(() => {
    document.title = signup ? "Create an account · Tasks" : "Sign in · Tasks";
  }, [signup]);

  const [emailTaken, setEmailTaken] = useState(false);

  function switchMode() {
    setMode(signup ? "signin" : "signup");
    setFieldErrors({});
    setFormError(null);
    setEmailTaken(false);
    setNote("");
  }

  function focusFirst(errors: Partial<Record<Fields, string>>) {
    const first = FIELDS.find((f) => errors[f]);
    const refs = { email: emailRef, password: passwordRef, name: nameRef };
    if (first) refs[first].current?.focus();
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy || passkeyBusy) return;
    setNote("");
    const local: Partial<Record<Fields, string>> = {};
    if (email.trim() === "") local.email = "Enter your email address.";
    if (password === "") local.password = signup ? "Choose a password." : "Enter your password.";
    setFormError(null);
    setFieldErrors(local);
    if (Object.keys(local).length) {
      focusFirst(local);
      return;
    }
    setBusy(true);
    try {
      if (signup) await session.signUp({ email: email.trim(), password, name });
      else await session.signIn({ email: email.trim(), password });
      // Success: App swaps this screen for the task list.
    } catch (err) {
      setBusy(false);
      if (err instanceof MfaRequiredError) {
        setMfaToken(err.mfaToken);
        return;
      }
      if (err instanceof NetworkError) {
        setFormError({ message: NETWORK_MESSAGE, retry: true });
        return;
      }
      const { byField, rest } = splitFieldErrors(err, FIELDS);
      setFieldErrors(byField);
      setEmailTaken(
        err instanceof ApiError && (err.code === "email_taken" || err.fieldError("email")?.code === "email_taken"),
      );
      if (rest.length) setFormError({ message: rest.join(" "), retry: false });
      else if (!Object.keys(byField).length) {
        const retry = !(err instanceof ApiError) || err.status >= 500;
        setFormError({ message: errorMessage(err, signup ? "Could not create your account" : "Could not sign in"), retry });
      }
      if (err instanceof ApiError && err.code === "invalid_credentials") passwordRef.current?.select();
      else focusFirst(byField);
    }
  }

  async function signInWithPasskey() {
    if (busy || passkeyBusy) return;
    setPasskeyBusy(true);
    setFormError(null);
    setFieldErrors({});
    setNote("");
    try {
      await passkeys.signIn();
      // Success: App swaps this screen for the page that was asked for.
    } catch (err) {
      setPasskeyBusy(false);
      if (ceremonyCancelled(err)) setNote("Passkey sign-in was cancelled. Try again, or sign in with your password.");
      else setFormError(passkeyFailure(err));
    }
  }

  // Why the form is on show, or what became of a passkey prompt the person closed.
  const info = note || (notice && !formError ? NOTICES[notice] : "");

  if (mfaToken !== null) {
    return (
      <MfaCodeStep
        session={session}
        mfaToken={mfaToken}
        onRestart={(reason) => {
          setMfaToken(null);
          setFormError({ message: reason, retry: false });
          requestAnimationFrame(() => passwordRef.current?.focus());
        }}
        onCancel={() => {
          setMfaToken(null);
          setPassword("");
          requestAnimationFrame(() => passwordRef.current?.focus());
        }}
      />
    );
  }

  return (
    <AuthLayout
      title={signup ? "Create your account" : "Sign in"}
      lead={signup ? "Keep track of what needs doing." : "Welcome back. Your tasks are waiting."}
    >
      {info && (
        <p className="alert alert-info" role="status">
          {info}
        </p>
      )}
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
        {signup && (
          <Field
            label="Name"
            hint="Optional"
            error={fieldErrors.name}
            inputRef={nameRef}
            input={{
              type: "text",
              autoComplete: "name",
              value: name,
              onChange: (e) => setName(e.target.value),
              maxLength: 200,
            }}
          />
        )}
        <Field
          label="Email"
          error={fieldErrors.email}
          errorAction={
            signup && emailTaken && fieldErrors.email ? (
              <button
                type="button"
                className="link"
                onClick={() => {
                  switchMode();
                  requestAnimationFrame(() => passwordRef.current?.focus());
                }}
              >
                Sign in instead
              </button>
            ) : undefined
          }
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
        <PasswordField
          label="Password"
          autoComplete={signup ? "new-password" : "current-password"}
          help={signup ? PASSWORD_HELP : undefined}
          error={fieldErrors.password}
          inputRef={passwordRef}
          value={password}
          onChange={setPassword}
        />
        {!signup && (
          <p className="auth-forgot">
            <NavLink to="forgot-password" className="link" state={{ email: email.trim() }}>
              Forgot password?
            </NavLink>
          </p>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || passkeyBusy}>
          {busy ? (signup ? "Creating account…" : "Signing in…") : signup ? "Create account" : "Sign in"}
        </button>
      </form>
      {!signup && (
        <div className="auth-passkey">
          <p className="auth-or" aria-hidden="true">
            <span>or</span>
          </p>
          <button
            type="button"
            className="btn btn-block"
            onClick={() => void signInWithPasskey()}
            disabled={!passkeys.webauthn.supported || busy || passkeyBusy}
            aria-describedby={passkeys.webauthn.supported ? undefined : passkeyNoteId}
          >
            <KeyIcon className="btn-icon-key" />
            {passkeyBusy ? "Waiting for your passkey…" : "Sign in with a passkey"}
          </button>
          {!passkeys.webauthn.supported && (
            <p id={passkeyNoteId} className="field-help">
              This browser can't use passkeys. Sign in with your password.
            </p>
          )}
        </div>
      )}
      <p className="auth-switch">
        {signup ? "Already have an account?" : "New here?"}{" "}
        <button type="button" className="link" onClick={switchMode}>
          {signup ? "Sign in" : "Create an account"}
        </button>
      </p>
    </AuthLayout>
  );
}
