import { useEffect, useRef } from "react";
import type { AccountClient } from "../api/account";
import type { EmailClient } from "../api/email";
import type { MfaClient } from "../api/mfa";
import type { PasskeysClient } from "../api/passkeys";
import type { SessionManager, User } from "../api/session";
import { useAnnouncement } from "../hooks/useAnnouncement";
import { usePasskeys } from "../hooks/usePasskeys";
import { useSecurityEvents } from "../hooks/useSecurityEvents";
import { useSessions } from "../hooks/useSessions";
import { navigate } from "../navigation";
import { AuthenticatorCard } from "./AuthenticatorCard";
import { ChangePasswordForm } from "./ChangePasswordForm";
import { DeleteAccountCard } from "./DeleteAccountCard";
import { PasskeysCard } from "./PasskeysCard";
import { SecurityActivityCard } from "./SecurityActivityCard";
import { SessionsCard } from "./SessionsCard";
import { SignedInPage } from "./SignedInPage";

/** The Account page: where the person is signed in, their password, two-step verification (an
 * authenticator app), passkeys, what happened to the account lately, and deleting the account.
 * Puts the pieces together and says what happened in the polite status region. */
export function AccountScreen({
  session,
  account,
  email,
  mfa,
  passkeys,
  user,
}: {
  session: SessionManager;
  email: EmailClient;
  account: AccountClient;
  mfa: MfaClient;
  passkeys: PasskeysClient;
  user: User;
}) {
  const sessions = useSessions(account);
  const passkeyList = usePasskeys(passkeys);
  const events = useSecurityEvents(account);
  const [announcement, announce] = useAnnouncement();
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => headingRef.current?.focus(), []);

  // Ending sessions and changing the password here are security activity too: the list follows.
  function passwordChanged() {
    sessions.othersEnded();
    events.reload();
    announce("Password changed. You have been signed out everywhere else.");
  }

  // Turning the app off ends every other session, like a password change.
  function mfaDisabled() {
    sessions.othersEnded();
    events.reload();
  }

  function deleted() {
    // Back to "/" first, so that whoever signs in next lands on their task list.
    navigate("tasks", { replace: true });
    session.accountDeleted();
  }

  return (
    <SignedInPage session={session} email={email} user={user}>
      <h1 ref={headingRef} tabIndex={-1} className="page-title">
        Account
      </h1>
      <p className="muted account-who">
        Signed in as <strong>{user.name || user.email}</strong>
        {user.name && <> ({user.email})</>}
      </p>

      <SessionsCard sessions={sessions} announce={announce} onChanged={events.reload} />
      <ChangePasswordForm account={account} email={user.email} onChanged={passwordChanged} />
      {/* Strictly: an auth-service that predates second factors says nothing about them. */}
      {user.totp_enabled !== undefined && (
        <AuthenticatorCard
          mfa={mfa}
          session={session}
          user={user}
          announce={announce}
          onEnabled={events.reload}
          onDisabled={mfaDisabled}
        />
      )}
      <PasskeysCard
        passkeys={passkeyList}
        supported={passkeys.webauthn.supported}
        totpEnabled={!!user.totp_enabled}
        announce={announce}
        onChanged={events.reload}
      />
      <SecurityActivityCard events={events} announce={announce} />
      <DeleteAccountCard account={account} email={user.email} onDeleted={deleted} />

      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
    </SignedInPage>
  );
}
