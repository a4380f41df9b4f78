import type { User } from "../api/session";
import { Logo } from "./Logo";
import { NavLink } from "./NavLink";

/** The bar across the top of the signed-in pages: the brand, the way between the task list and
 * the Account page, who is signed in, and Sign out. */
export function TopBar({ user, signingOut, onSignOut }: { user: User; signingOut: boolean; onSignOut: () => void }) {
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <div className="brand">
          <Logo size={26} />
          <span className="brand-name">Tasks</span>
        </div>
        <nav className="nav" aria-label="Main">
          <NavLink to="tasks" className="nav-link">
            Your tasks
          </NavLink>
          <NavLink to="account" className="nav-link">
            Account
          </NavLink>
        </nav>
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
