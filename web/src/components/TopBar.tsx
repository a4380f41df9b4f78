import type { User } from "../api/session";
import { Logo } from "./Logo";

/** The bar across the top of the task screen: the brand, who is signed in, and Sign out. */
export function TopBar({ user, signingOut, onSignOut }: { user: User; signingOut: boolean; onSignOut: () => void }) {
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <div className="brand">
          <Logo size={26} />
          <span>Tasks</span>
        </div>
        <div className="account">
          <span className="account-name" title={user.email}>
            {user.name || user.email}
          </span>
          <button type="button" className="btn btn-ghost btn-small" onClick={onSignOut} disabled={signingOut}>
            {signingOut ? "Signing out…" : "Sign out"}
          </button>
        </div>
      </div>
    </header>
  );
}
