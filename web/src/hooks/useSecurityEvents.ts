/** The Account page's "Security activity": the person's events newest first, the first page and
 * the older ones by cursor. Asked for again after something on the page adds an event (a
 * password change, a session ended); the list on show stays meanwhile. Words for what happened
 * are the screen's; this hook keeps the data. */
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import type { AccountClient, EventPage, SecurityEvent } from "../api/account";
import { errorMessage, sessionEnded } from "../messages";

/** Ten at a time: the recent ones are what a person checks; "Show more" has the rest. */
export const EVENTS_PAGE_SIZE = 10;

/** "refreshing": the last list stays on show while it is asked for again. */
export type EventsStatus = "loading" | "refreshing" | "ready" | "error";

/** What the last answered first-page request brought, and the pages added to it since. */
interface State {
  /** The request these items answer; null before the first answer. */
  key: number | null;
  items: SecurityEvent[];
  cursor: string | null;
  error: string;
  moreError: string;
}

type Action =
  | { type: "loaded"; key: number; page: EventPage }
  | { type: "failed"; key: number; message: string }
  | { type: "more-loading"; key: number }
  | { type: "more-loaded"; key: number; page: EventPage }
  | { type: "more-failed"; key: number; message: string };

const INITIAL: State = { key: null, items: [], cursor: null, error: "", moreError: "" };

function reducer(state: State, action: Action): State {
  switch (action.type) {
    case "loaded":
      return { key: action.key, items: action.page.items, cursor: action.page.next_cursor, error: "", moreError: "" };
    case "failed":
      return { ...state, key: action.key, error: action.message, moreError: "" };
    case "more-loading":
      return action.key === state.key ? { ...state, moreError: "" } : state;
    case "more-loaded": {
      // An older page of a list asked for again since belongs to the list that was replaced.
      if (action.key !== state.key) return state;
      const seen = new Set(state.items.map((e) => e.id));
      const fresh = action.page.items.filter((e) => !seen.has(e.id));
      return { ...state, items: [...state.items, ...fresh], cursor: action.page.next_cursor };
    }
    case "more-failed":
      return action.key === state.key ? { ...state, moreError: action.message } : state;
  }
}

export function useSecurityEvents(account: AccountClient, pageSize = EVENTS_PAGE_SIZE) {
  // Every (re)load is a new key, so an answer knows whether it is still the one wanted.
  const [key, setKey] = useState(0);
  const [state, dispatch] = useReducer(reducer, INITIAL);
  const [loadingMore, setLoadingMore] = useState(false);
  // The key as of the last effect, for an older page that comes back after a reload.
  const latestKey = useRef(key);

  useEffect(() => {
    latestKey.current = key;
    const controller = new AbortController();
    account.listEvents({ limit: pageSize }, controller.signal).then(
      (page) => {
        if (!controller.signal.aborted) dispatch({ type: "loaded", key, page });
      },
      (err: unknown) => {
        if (controller.signal.aborted || sessionEnded(err)) return;
        dispatch({ type: "failed", key, message: errorMessage(err, "Could not load your security activity") });
      },
    );
    return () => controller.abort();
  }, [account, key, pageSize]);

  const status: EventsStatus =
    state.key === key
      ? state.error
        ? "error"
        : "ready"
      : state.key !== null && !state.error
        ? "refreshing"
        : "loading";

  const reload = useCallback(() => setKey((k) => k + 1), []);

  /** Resolves to how many older events it added (0 when it failed: `moreError` says why). */
  async function loadMore(): Promise<number> {
    const cursor = state.cursor;
    if (!cursor || loadingMore || status !== "ready") return 0; // see `busy`
    setLoadingMore(true);
    dispatch({ type: "more-loading", key });
    try {
      const page = await account.listEvents({ limit: pageSize, cursor });
      dispatch({ type: "more-loaded", key, page });
      return latestKey.current === key ? page.items.length : 0;
    } catch (err) {
      if (!sessionEnded(err)) {
        dispatch({ type: "more-failed", key, message: errorMessage(err, "Could not load older activity") });
      }
      return 0;
    } finally {
      setLoadingMore(false);
    }
  }

  const showing = status === "ready" || status === "refreshing";
  return {
    status,
    events: showing ? state.items : [],
    error: status === "error" ? state.error : "",
    /** More (older) events to ask for. */
    hasMore: showing && state.cursor !== null,
    loadingMore,
    /** "Show more" waits: a page is on its way, or the list is being asked for again. */
    busy: loadingMore || status === "refreshing",
    moreError: state.moreError,
    reload,
    loadMore,
  };
}
