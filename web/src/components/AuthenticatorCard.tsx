import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError, NetworkError } from "../api/errors";
import { groupSecret, type MfaClient, type TotpSetup } from "../api/mfa";
import type { SessionManager, User } from "../api/session";
import { copyText, downloadText } from "../clipboard";
import { errorMessage, sessionEnded, splitFieldErrors } from "../messages";
import { qrImageUrl } from "../qr";
import { Field } from "./Field";
import { PasswordField } from "./PasswordField";

/** What the card shows besides "on" or "off": a set-up under way, the recovery codes (once), or
 * the password asked for turning it off. */
type View =
  | { step: "idle" }
  | { step: "setup"; setup: TotpSetup }
  | { step: "recovery"; codes: string[] }
  | { step: "turn-off" };

interface FormError {
  message: string;
  retry: boolean;
}

/**
 * "Two-step verification": an authenticator app (TOTP) as a second step after the password.
 * Off: "Set up authenticator app" → a QR code of the otpauth URI and the key as text → the first
 * code confirms it → the ten recovery codes, shown this once, with Copy and Download and an
 * "I saved them" check → on. On: "Turn off" with the password (every other session ends). Each
 * new step takes the keyboard focus at its heading; errors are alerts, outcomes go to `announce`.
 */
export function AuthenticatorCard({
  mfa,
  session,
  user,
  announce,
  onEnabled,
  onDisabled,
}: {
  mfa: MfaClient;
  session: Pick<SessionManager, "reloadUser">;
  user: User;
  announce: (message: string) => void;
  onEnabled?: () => void;
  onDisabled?: () => void;
}) {
  const headingId = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [view, setView] = useState<View>({ step: "idle" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<FormError | null>(null);
  // What this page just did, until the user object (asked for again) says the same or otherwise.
  const [override, setOverride] = useState<{ base: boolean | undefined; on: boolean } | null>(null);
  const on = override && override.base === user.totp_enabled ? override.on : !!user.totp_enabled;
  // Bumped to put the keyboard on the card's heading after a step closes (an effect: the step's
  // own elements are gone by then).
  const [backToHeading, setBackToHeading] = useState(0);

  useEffect(() => {
    if (backToHeading) headingRef.current?.focus();
  }, [backToHeading]);

  function settle(nowOn: boolean) {
    setOverride({ base: user.totp_enabled, on: nowOn });
    // The other tabs and the header learn it from the user object; a failure here changes nothing
    // that the override does not already show.
    session.reloadUser().catch(() => undefined);
  }

  function close() {
    setView({ step: "idle" });
    setError(null);
    setBackToHeading((n) => n + 1);
  }

  async function start() {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      setView({ step: "setup", setup: await mfa.setUp() });
    } catch (err) {
      if (sessionEnded(err)) return;
      if (err instanceof ApiError && err.code === "totp_already_enabled") {
        settle(true);
        announce("Your authenticator app is already set up.");
        return;
      }
      setError({ message: errorMessage(err, "Could not start the set-up"), retry: err instanceof NetworkError });
    } finally {
      setBusy(false);
    }
  }

  function confirmed(codes: string[]) {
    settle(true);
    setView({ step: "recovery", codes });
    onEnabled?.();
    announce("Two-step verification is on.");
  }

  function turnedOff() {
    settle(false);
    close();
    onDisabled?.();
    announce("Two-step verification is off. You have been signed out everywhere else.");
  }

  return (
    <section className="card account-card" aria-labelledby={headingId}>
      <h2 id={headingId} ref={headingRef} tabIndex={-1} className="card-title">
        Two-step verification
      </h2>

      {view.step === "setup" ? (
        <SetupStep
          setup={view.setup}
          mfa={mfa}
          announce={announce}
          onConfirmed={confirmed}
          onCancel={close}
          onStale={(message) => {
            setView({ step: "idle" });
            setError({ message, retry: false });
            setBackToHeading((n) => n + 1);
          }}
        />
      ) : view.step === "recovery" ? (
        <RecoveryCodes codes={view.codes} email={user.email} announce={announce} onDone={close} />
      ) : view.step === "turn-off" ? (
        <TurnOffForm
          mfa={mfa}
          email={user.email}
          onDone={turnedOff}
          onAlreadyOff={() => {
            settle(false);
            close();
            announce("Two-step verification was already off.");
          }}
          onCancel={close}
        />
      ) : (
        <>
          {on ? (
            <p className="mfa-state">
              <span className="badge badge-on">On</span>{" "}
              <span>Signing in with your password also asks for a code from your authenticator app.</span>
            </p>
          ) : (
            <p className="muted">
              Add a second step when you sign in with your password: a 6-digit code from an authenticator app on your
              phone, such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis.
            </p>
          )}
          {on && <p className="muted">Lost your phone? Sign in with one of your recovery codes instead of a code.</p>}
          {error && (
            <div className="alert alert-error" role="alert">
              <span>{error.message}</span>
              {error.retry && (
                <button type="button" className="btn btn-small" onClick={() => void start()} disabled={busy}>
                  Try again
                </button>
              )}
            </div>
          )}
          <div className="form-actions">
            {on ? (
              <button type="button" className="btn" onClick={() => setView({ step: "turn-off" })}>
                Turn off…
              </button>
            ) : (
              <button type="button" className="btn btn-primary" onClick={() => void start()} disabled={busy}>
                {busy ? "Setting up…" : "Set up authenticator app"}
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

/** A step's heading, which takes the keyboard focus when the step appears. */
function StepHeading({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h3 ref={ref} tabIndex={-1} className="step-title">
      {children}
    </h3>
  );
}

/** The QR code and the key, then the first code from the app. */
function SetupStep({
  setup,
  mfa,
  announce,
  onConfirmed,
  onCancel,
  onStale,
}: {
  setup: TotpSetup;
  mfa: MfaClient;
  announce: (message: string) => void;
  onConfirmed: (codes: string[]) => void;
  onCancel: () => void;
  onStale: (message: string) => void;
}) {
  const [qr, setQr] = useState<{ uri: string; url: string | null } | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState("");
  const [formError, setFormError] = useState<FormError | null>(null);
  const codeRef = useRef<HTMLInputElement>(null);
  const keyId = useId();

  useEffect(() => {
    let live = true;
    qrImageUrl(setup.otpauth_uri).then(
      (url) => live && setQr({ uri: setup.otpauth_uri, url }),
      // No picture: the key below still works.
      () => live && setQr({ uri: setup.otpauth_uri, url: null }),
    );
    return () => {
      live = false;
    };
  }, [setup.otpauth_uri]);

  async function copyKey() {
    announce((await copyText(setup.secret)) ? "Key copied." : "Couldn't copy. Select the key and copy it yourself.");
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    setFormError(null);
    const digits = code.replace(/\s+/g, "");
    const local = digits === "" ? "Enter the 6-digit code from the app." : /^\d{6}$/.test(digits) ? "" : "The code has 6 digits.";
    setFieldError(local);
    if (local) {
      codeRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      onConfirmed(await mfa.confirm(digits));
    } catch (err) {
      setBusy(false);
      if (sessionEnded(err)) return;
      if (err instanceof ApiError && err.code === "totp_not_pending") {
        onStale("That set-up was replaced or ran out. Start again.");
        return;
      }
      const { byField, rest } = splitFieldErrors(err, ["code"]);
      setFieldError(byField.code ?? "");
      if (byField.code) {
        codeRef.current?.focus();
        codeRef.current?.select();
      }
      if (rest.length || !byField.code) {
        setFormError({
          message: rest.join(" ") || errorMessage(err, "Could not turn on two-step verification"),
          retry: err instanceof NetworkError,
        });
      }
    }
  }

  const showsQr = qr?.uri === setup.otpauth_uri;
  return (
    <div className="mfa-step">
      <StepHeading>Scan this QR code with your authenticator app</StepHeading>
      <div className="totp-setup">
        <div className="qr-frame">
          {showsQr && qr.url ? (
            <img
              className="qr"
              src={qr.url}
              width={176}
              height={176}
              alt="QR code for adding your Tasks account to an authenticator app"
            />
          ) : (
            <div className="qr qr-placeholder" aria-hidden="true" />
          )}
        </div>
        <div className="totp-key">
          <p id={keyId}>Can't scan it? In the app, add an account by hand and type this key (time-based):</p>
          <p className="secret">
            <code aria-describedby={keyId}>{groupSecret(setup.secret)}</code>
          </p>
          <button type="button" className="btn btn-small" onClick={() => void copyKey()}>
            Copy key
          </button>
        </div>
      </div>
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
      <form onSubmit={submit} noValidate className="account-form">
        <Field
          label="Code from the app"
          help="Enter the 6-digit code the app now shows for Tasks."
          error={fieldError}
          inputRef={codeRef}
          className="code-field"
          input={{
            type: "text",
            inputMode: "numeric",
            autoComplete: "one-time-code",
            autoCapitalize: "none",
            spellCheck: false,
            maxLength: 7,
            value: code,
            onChange: (e) => setCode(e.target.value),
          }}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Checking…" : "Turn on"}
          </button>
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}

/** The ten recovery codes, shown this once: Copy, Download, and "I saved them" before leaving. */
function RecoveryCodes({
  codes,
  email,
  announce,
  onDone,
}: {
  codes: string[];
  email: string;
  announce: (message: string) => void;
  onDone: () => void;
}) {
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState("");
  const checkRef = useRef<HTMLInputElement>(null);
  const errorId = useId();
  const text = codes.join("\n");

  async function copy() {
    announce((await copyText(text)) ? "Recovery codes copied." : "Couldn't copy. Select the codes and copy them yourself.");
  }

  function download() {
    const file = [
      `Recovery codes for your Tasks account ${email}`,
      `Made ${new Date().toISOString().slice(0, 10)}. Each code signs you in once, instead of a code from your authenticator app.`,
      "",
      ...codes,
      "",
    ].join("\n");
    downloadText("tasks-recovery-codes.txt", file);
    announce("Recovery codes downloaded.");
  }

  function done(event: FormEvent) {
    event.preventDefault();
    if (!saved) {
      setError("Tick the box once you have saved the codes: they won't be shown again.");
      checkRef.current?.focus();
      return;
    }
    onDone();
  }

  return (
    <div className="mfa-step">
      <StepHeading>Save your recovery codes</StepHeading>
      <p>
        If you lose your phone, each of these codes signs you in once instead of a code from the app.{" "}
        <strong>They won't be shown again:</strong> copy or download them and keep them somewhere safe, such as a password
        manager.
      </p>
      <ol className="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="form-actions">
        <button type="button" className="btn" onClick={() => void copy()}>
          Copy codes
        </button>
        <button type="button" className="btn" onClick={download}>
          Download (.txt)
        </button>
      </div>
      <form onSubmit={done} noValidate className="account-form">
        <div className="check-field">
          <label>
            <input
              ref={checkRef}
              type="checkbox"
              checked={saved}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              onChange={(e) => {
                setSaved(e.target.checked);
                if (e.target.checked) setError("");
              }}
            />{" "}
            I have saved my recovery codes
          </label>
          {error && (
            <div id={errorId} className="field-error" role="alert">
              {error}
            </div>
          )}
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary">
            Done
          </button>
        </div>
      </form>
    </div>
  );
}

/** Turning the app off: the password, as for every change that weakens the account. */
function TurnOffForm({
  mfa,
  email,
  onDone,
  onAlreadyOff,
  onCancel,
}: {
  mfa: MfaClient;
  email: string;
  onDone: () => void;
  onAlreadyOff: () => void;
  onCancel: () => void;
}) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState("");
  const [formError, setFormError] = useState("");
  const passwordRef = useRef<HTMLInputElement>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    setFormError("");
    if (password === "") {
      setFieldError("Enter your password to turn off two-step verification.");
      passwordRef.current?.focus();
      return;
    }
    setFieldError("");
    setBusy(true);
    try {
      await mfa.turnOff(password);
      onDone();
    } catch (err) {
      setBusy(false);
      if (sessionEnded(err)) return;
      if (err instanceof ApiError && err.code === "totp_not_enabled") {
        onAlreadyOff();
        return;
      }
      const { byField, rest } = splitFieldErrors(err, ["password"]);
      setFieldError(byField.password ?? "");
      setFormError(rest.join(" ") || (byField.password ? "" : errorMessage(err, "Could not turn it off")));
      if (byField.password) {
        passwordRef.current?.focus();
        passwordRef.current?.select();
      }
    }
  }

  return (
    <div className="mfa-step">
      <StepHeading>Turn off two-step verification?</StepHeading>
      <p>
        Signing in will need only your password (or a passkey). You will be signed out everywhere else. Your recovery
        codes stop working.
      </p>
      {formError && (
        <p className="alert alert-error" role="alert">
          {formError}
        </p>
      )}
      <form onSubmit={submit} noValidate className="account-form">
        <input type="text" name="username" autoComplete="username" value={email} readOnly hidden />
        <PasswordField
          label="Your password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          error={fieldError}
          inputRef={passwordRef}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn-danger" disabled={busy}>
            {busy ? "Turning off…" : "Turn off"}
          </button>
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
