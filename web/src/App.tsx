import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { AuthState, SessionManager } from "./api/session";
import type { TasksClient } from "./api/tasks";
import { AuthScreen } from "./components/AuthScreen";
import { TasksScreen } from "./components/TasksScreen";
import { errorMessage } from "./messages";

type Boot = { phase: "restoring" } | { phase: "failed"; message: string } | { phase: "ready" };

export function App({ session, tasks }: { session: SessionManager; tasks: TasksClient }) {
  const subscribe = useCallback((cb: () => void) => {
    const off = session.subscribe(cb);
    return () => void off();
  }, [session]);
  const auth: AuthState = useSyncExternalStore(subscribe, () => session.current);
  const [boot, setBoot] = useState<Boot>({ phase: "restoring" });

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
    document.title = !ready ? "Tasks" : auth.status === "signed-in" ? "Your tasks · Tasks" : "Sign in · Tasks";
  }, [ready, auth.status]);

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
  if (auth.status === "signed-in") {
    return <TasksScreen key={auth.user.id} session={session} tasks={tasks} user={auth.user} />;
  }
  return <AuthScreen session={session} expired={auth.reason === "expired"} />;
}
