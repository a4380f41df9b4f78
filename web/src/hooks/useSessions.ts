/** The Account page's sessions list: where the person is signed in, as the auth-service last said,
 * and ending one of those sessions or all but this one. Words for what happened are the screen's;
 * this hook keeps the data and why an action failed. */
import { useCallback, useEffect, useState } from "react";
import type { AccountClient, SessionInfo } from "../api/account";
import { errorMessage, sessionEnded } from "../messages";

/** "refreshing": the last list stays on show while it is asked for again. */
export type SessionsStatus = "loading" | "refreshing" | "ready" | "error";

/** `pending` while "sign out everywhere else" is under way (otherwise it holds a session's id). */
export const OTHERS = "others";

/** What the last answered request brought: `key` is the request it answers. */
interface Loaded {
  key: number;
  sessions: SessionInfo[];
  error: string;
}

export function useSessions(account: AccountClient) {
  // Every (re)load is a new key, so an answer knows whether it is still the one wanted.
  const [key, setKey] = useState(0);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [actionError, setActionError] = useState("");

  useEffect(() => {
    const controller = new AbortController();
    account.listSessions(controller.signal).then(
      (sessions) => {
        if (!controller.signal.aborted) setLoaded({ key, sessions, error: "" });
      },
      (err: unknown) => {
        if (controller.signal.aborted || sessionEnded(err)) return;
        setLoaded({ key, sessions: [], error: errorMessage(err, "Could not load your sessions") });
      },
    );
    return () => controller.abort();
  }, [account, key]);

  const status: SessionsStatus =
    loaded?.key === key ? (loaded.error ? "error" : "ready") : loaded && !loaded.error ? "refreshing" : "loading";

  const reload = useCallback(() => setKey((k) => k + 1), []);

  /** Every session but this one has ended (here, or by a password change): show that at once,
   * then ask the service again for the list as it now stands. */
  const othersEnded = useCallback(() => {
    setLoaded((l) => l && { ...l, sessions: l.sessions.filter((s) => s.current) });
    reload();
  }, [reload]);

  /** Resolves to whether the session ended (actionError says why not). */
  async function end(target: SessionInfo): Promise<boolean> {
    setPending(target.id);
    setActionError("");
    try {
      await account.endSession(target.id);
      setLoaded((l) => l && { ...l, sessions: l.sessions.filter((s) => s.id !== target.id) });
      return true;
    } catch (err) {
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not sign out that session"));
      return false;
    } finally {
      setPending(null);
    }
  }

  /** Ends every session but this one; resolves to whether that worked. */
  async function endOthers(): Promise<boolean> {
    setPending(OTHERS);
    setActionError("");
    try {
      await account.signOutEverywhere({ keepCurrent: true });
      othersEnded();
      return true;
    } catch (err) {
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not sign out the other sessions"));
      return false;
    } finally {
      setPending(null);
    }
  }

  const sessions = status === "error" ? [] : (loaded?.sessions ?? []);
  return {
    status,
    sessions,
    error: status === "error" ? (loaded?.error ?? "") : "",
    /** A session's id, OTHERS, or null. */
    pending,
    reload,
    end,
    endOthers,
    othersEnded,
    actionError,
    dismissActionError: () => setActionError(""),
  };
}
