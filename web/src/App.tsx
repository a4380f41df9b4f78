import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { AccountClient } from "./api/account";
import type { EmailClient } from "./api/email";
import type { MfaClient } from "./api/mfa";
import type { PasskeysClient } from "./api/passkeys";
import type { AuthState, SessionManager } from "./api/session";
import type { TasksClient } from "./api/tasks";
import { AccountScreen } from "./components/AccountScreen";
import { AuthScreen } from "./components/AuthScreen";
import { ForgotPasswordScreen } from "./components/ForgotPasswordScreen";
import { ResetPasswordScreen } from "./components/ResetPasswordScreen";
import { TasksScreen } from "./components/TasksScreen";
import { VerifyEmailScreen } from "./components/VerifyEmailScreen";
import { errorMessage } from "./messages";
import { isPublicPage, usePage, type Page } from "./navigation";

type Boot = { phase: "restoring" } | { phase: "failed"; message: string } | { phase: "ready" };

const TITLES: Record<Page, string> = {
  tasks: "Your tasks · Tasks",
  account: "Account · Tasks",
  "forgot-password": "Forgot your password · Tasks",
  "reset-password": "Choose a new password · Tasks",
  "verify-email": "Confirm your email address · Tasks",
};

export function App({
  session,
  tasks,
  account,
  email,
  mfa,
  passkeys,
}: {
  session: SessionManager;
  tasks: TasksClient;
  account: AccountClient;
  email: EmailClient;
  mfa: MfaClient;
  passkeys: PasskeysClient;
}) {
  const subscribe = useCallback((cb: () => void) => {
    const off = session.subscribe(cb);
    return () => void off();
  }, [session]);
  const auth: AuthState = useSyncExternalStore(subscribe, () => session.current);
  const [boot, setBoot] = useState<Boot>({ phase: "restoring" });
  // The address bar's page; signed out, every address shows the sign-in form and keeps its page
  // for after the sign-in.
  const page = usePage();

  // Boot starts as "restoring", so the first restore only has an outcome to record; a retry
  // (retryRestore) shows the spinner again first.
  const restore = useCallback(() => {
    session.restore().then(
      () => setBoot({ phase: "ready" }),
      (err: unknown) => setBoot({ phase: "failed", message: errorMessage(err, "Could not load your session") }),
    );
  }, [session]);

  useEffect(() => restore(), [restore]);

  function retryRestore() {
    setBoot({ phase: "restoring" });
    restore();
  }

  // Another tab may sign in while this one is stuck on a failed start: its session wins.
  const ready = boot.phase === "ready" || auth.status === "signed-in";

  useEffect(() => {
    document.title = !ready
      ? "Tasks"
      : auth.status === "signed-in" || isPublicPage(page)
        ? TITLES[page]
        : "Sign in · Tasks";
  }, [ready, auth.status, page]);

  if (!ready && boot.phase === "restoring") {
    return (
      <main className="boot" aria-busy="true">
        <div className="spinner" aria-hidden="true" />
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (!ready && boot.phase === "failed") {
    return (
      <main className="boot">
        <div className="card boot-card">
          <h1>Tasks</h1>
          <p role="alert" className="alert alert-error">
            {boot.message}
          </p>
          <button type="button" className="btn btn-primary" onClick={retryRestore}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  // A mailed link's page and "Forgot password?" show the same signed in or out.
  const user = auth.status === "signed-in" ? auth.user : null;
  if (page === "forgot-password") return <ForgotPasswordScreen email={email} signedIn={!!user} />;
  if (page === "reset-password") return <ResetPasswordScreen email={email} session={session} signedIn={!!user} />;
  if (page === "verify-email") return <VerifyEmailScreen email={email} session={session} user={user} />;
  if (auth.status === "signed-in") {
    return page === "account" ? (
      <AccountScreen
        key={auth.user.id}
        session={session}
        account={account}
        email={email}
        mfa={mfa}
        passkeys={passkeys}
        user={auth.user}
      />
    ) : (
      <TasksScreen key={auth.user.id} session={session} tasks={tasks} email={email} user={auth.user} />
    );
  }
  const notice = auth.reason === "expired" || auth.reason === "deleted" ? auth.reason : undefined;
  return <AuthScreen session={session} passkeys={passkeys} notice={notice} />;
}
