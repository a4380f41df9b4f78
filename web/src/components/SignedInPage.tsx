import type { ReactNode } from "react";
import type { SessionManager, User } from "../api/session";
import { useSignOut } from "../hooks/useSignOut";
import { TopBar } from "./TopBar";

/** What every signed-in page has around its content: the top bar with Sign out, and why signing
 * out failed (the session lives on at the service, so the person must know). */
export function SignedInPage({ session, user, children }: { session: SessionManager; user: User; children: ReactNode }) {
  const { signOut, signingOut, error } = useSignOut(session);
  return (
    <div className="app">
      <TopBar user={user} signingOut={signingOut} onSignOut={signOut} />
      <main className="content">
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
