import type { ReactNode } from "react";
import type { EmailClient } from "../api/email";
import type { SessionManager, User } from "../api/session";
import { useSignOut } from "../hooks/useSignOut";
import { TopBar } from "./TopBar";
import { VerifyEmailBanner } from "./VerifyEmailBanner";

/** What every signed-in page has around its content: the top bar with Sign out, why signing out
 * failed (the session lives on at the service, so the person must know), and the banner asking to
 * confirm the email address while it is not. */
export function SignedInPage({
  session,
  email,
  user,
  children,
}: {
  session: SessionManager;
  email: EmailClient;
  user: User;
  children: ReactNode;
}) {
  const { signOut, signingOut, error } = useSignOut(session);
  return (
    <div className="app">
      <TopBar user={user} signingOut={signingOut} onSignOut={signOut} />
      <main className="content">
        {/* Strictly false: an auth-service that predates verification sends nothing. */}
        {user.email_verified === false && <VerifyEmailBanner user={user} email={email} session={session} />}
        {error && (
          <div className="alert alert-error" role="alert">
            <span>{error}</span>
            <button type="button" className="btn btn-small" onClick={signOut} disabled={signingOut}>
              Try again
            </button>
          </div>
        )}
        {children}
      </main>
    </div>
  );
}
