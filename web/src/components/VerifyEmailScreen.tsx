import { useEffect, useState } from "react";
import type { EmailClient } from "../api/email";
import { ApiError } from "../api/errors";
import type { SessionManager, User } from "../api/session";
import { useResendVerification } from "../hooks/useResendVerification";
import { errorMessage } from "../messages";
import { queryParam } from "../navigation";
import { AuthLayout } from "./AuthLayout";
import { NavLink } from "./NavLink";

/** What became of the link: confirmed, refused (used, expired, unknown), or not known (the
 * service could not be reached: worth another try). */
type Result = { kind: "verified" } | { kind: "invalid" } | { kind: "failed"; message: string };

/**
 * `/verify-email?token=…`, the page the verification mail links to. It uses the token as soon as
 * it opens — once: EmailClient.verify shares one request per token, so React's doubled effects
 * (StrictMode) cannot spend the single-use token and then report it used. Signed in, the person's
 * `email_verified` is asked for again afterwards, so the banner goes here and in the other tabs.
 */
export function VerifyEmailScreen({
  email,
  session,
  user,
}: {
  email: EmailClient;
  session: Pick<SessionManager, "reloadUser">;
  /** The signed-in person, or null. */
  user: User | null;
}) {
  const [token] = useState(() => queryParam("token"));
  const [attempt, setAttempt] = useState(0);
  const [result, setResult] = useState<Result | null>(null);

  useEffect(() => {
    if (!token) return;
    let live = true;
    email.verify(token).then(
      async () => {
        if (!live) return;
        await session.reloadUser().catch(() => undefined);
        if (live) setResult({ kind: "verified" });
      },
      (err: unknown) => {
        if (!live) return;
        if (err instanceof ApiError && err.code === "invalid_token_link") setResult({ kind: "invalid" });
        else setResult({ kind: "failed", message: errorMessage(err, "Could not confirm your email address") });
      },
    );
    return () => {
      live = false;
    };
  }, [email, session, token, attempt]);

  function retry() {
    setResult(null);
    setAttempt((n) => n + 1);
  }

  const onward = (
    <NavLink to="tasks" replace className="btn btn-primary btn-block">
      {user ? "Go to your tasks" : "Sign in"}
    </NavLink>
  );

  if (token && !result) {
    return (
      <AuthLayout title="Confirming your email address…" busy>
        <div className="auth-progress">
          <div className="spinner" aria-hidden="true" />
          <p role="status">Confirming…</p>
        </div>
      </AuthLayout>
    );
  }

  if (result?.kind === "verified") {
    return (
      <AuthLayout title="Email address confirmed" focusKey="verified">
        <p className="alert alert-success" role="status">
          Thank you: your email address is confirmed.
        </p>
        {onward}
      </AuthLayout>
    );
  }

  if (result?.kind === "failed") {
    return (
      <AuthLayout title="Your email address is not confirmed yet" focusKey={`failed-${attempt}`}>
        <div className="alert alert-error" role="alert">
          <span>{result.message}</span>
        </div>
        <button type="button" className="btn btn-primary btn-block" onClick={retry}>
          Try again
        </button>
      </AuthLayout>
    );
  }

  // A refused link, or none at all. Whoever is signed in with the address verified already (this
  // link's earlier use, say) needs nothing more.
  if (user?.email_verified) {
    return (
      <AuthLayout title="Email address already confirmed" focusKey="already">
        <p className="alert alert-success" role="status">
          Your email address is already confirmed. This link is not needed any more.
        </p>
        {onward}
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title={token ? "This link can no longer be used" : "This link is incomplete"} focusKey="invalid">
      <p className="alert alert-error" role="alert">
        {token
          ? "This confirmation link has expired or was already used."
          : "This address has no confirmation code in it. Perhaps only part of the link was copied."}
      </p>
      <p className="muted">
        A confirmation link works once, for 24 hours. If you already followed it, your address is confirmed and there
        is nothing more to do.
      </p>
      {user ? <SendNewLink email={email} session={session} address={user.email} /> : <SignInForNewLink />}
      {onward}
    </AuthLayout>
  );
}

/** Signed in: a new link from here. */
function SendNewLink({
  email,
  session,
  address,
}: {
  email: EmailClient;
  session: Pick<SessionManager, "reloadUser">;
  address: string;
}) {
  const { resend, busy, outcome } = useResendVerification(email, session);
  return (
    <div className="auth-resend">
      <button type="button" className="btn btn-block" onClick={() => void resend(address)} disabled={busy}>
        {busy ? "Sending…" : "Send a new link"}
      </button>
      <p role="status" className="muted">
        {outcome && outcome.kind !== "error" ? outcome.message : ""}
      </p>
      {outcome?.kind === "error" && (
        <p className="alert alert-error" role="alert">
          {outcome.message}
        </p>
      )}
    </div>
  );
}

/** Signed out: the way to a new link goes through signing in. */
function SignInForNewLink() {
  return <p className="muted">To get a new link, sign in: the notice at the top of the page has “Resend”.</p>;
}
