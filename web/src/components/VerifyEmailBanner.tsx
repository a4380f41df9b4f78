import { useId } from "react";
import type { EmailClient } from "../api/email";
import type { SessionManager, User } from "../api/session";
import { useResendVerification } from "../hooks/useResendVerification";

/** Across the top of the signed-in pages while the account's address is not verified: where the
 * link went, and "Resend". What Resend did is said in the banner's polite status region (a
 * failure as an alert); once the address is verified the banner is gone. */
export function VerifyEmailBanner({
  user,
  email,
  session,
}: {
  user: User;
  email: EmailClient;
  session: Pick<SessionManager, "reloadUser">;
}) {
  const { resend, busy, outcome } = useResendVerification(email, session);
  const headingId = useId();
  return (
    <section className="banner" aria-labelledby={headingId}>
      <svg className="banner-icon" width="22" height="22" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <rect x="3" y="5" width="18" height="14" rx="2.5" fill="none" stroke="currentColor" strokeWidth="2" />
        <path d="M4 7l8 6 8-6" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" />
      </svg>
      <div className="banner-body">
        <p>
          <strong id={headingId}>Confirm your email address</strong> — we sent a link to{" "}
          <strong className="break">{user.email}</strong>. Follow it to show the address is yours.
        </p>
        <p className="banner-status" role="status">
          {outcome && outcome.kind !== "error" ? outcome.message : ""}
        </p>
        {outcome?.kind === "error" && (
          <p className="banner-error" role="alert">
            {outcome.message}
          </p>
        )}
      </div>
      <button
        type="button"
        className="btn btn-small"
        aria-label="Resend the confirmation email"
        onClick={() => void resend(user.email)}
        disabled={busy}
      >
        {busy ? "Sending…" : "Resend"}
      </button>
    </section>
  );
}
