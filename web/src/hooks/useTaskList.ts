/** The task list's state: the filter and (debounced) search, the first page and the pages after
 * it by cursor, and the changes a person makes to the tasks shown (optimistic toggles put back
 * on failure). Words for what happened are the screen's; this hook keeps the data. */
import { useEffect, useReducer, useState } from "react";
import type { StatusFilter, Task, TaskPage, TaskPatch, TasksClient } from "../api/tasks";
import { errorMessage, sessionEnded } from "../messages";

export const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;

/** "loading": nothing to show yet; "refreshing": the previous results stay (dimmed) while the
 * next filter or search loads, so typing in the search box does not make the list flicker. */
export type ListStatus = "loading" | "refreshing" | "ready" | "error";

export function matchesFilter(task: Task, filter: StatusFilter) {
  return filter === "all" || (filter === "completed") === task.completed;
}

/** Which first page is wanted. Every change of filter or search, and every reload, is a new
 * request with the next `id`, so an answer can tell whether it is still the one wanted. */
interface ListRequest {
  id: number;
  filter: StatusFilter;
  query: string;
}

/** What the last first-page request brought, and what was done to it since. */
interface ListState {
  /** The request (ListRequest.id) these items answer; null before the first answer. */
  key: number | null;
  items: Task[];
  cursor: string | null;
  /** Why the first page failed ("" when it did not). */
  error: string;
  /** Why the last "load more" failed ("" when it did not). */
  moreError: string;
}

type ListAction =
  | { type: "loaded"; key: number; page: TaskPage }
  | { type: "failed"; key: number; message: string }
  | { type: "more-loading"; key: number }
  | { type: "more-loaded"; key: number; page: TaskPage }
  | { type: "more-failed"; key: number; message: string }
  | { type: "replaced"; task: Task }
  | { type: "removed"; id: string }
  | { type: "added"; task: Task };

const INITIAL: ListState = { key: null, items: [], cursor: null, error: "", moreError: "" };

function listReducer(state: ListState, action: ListAction): ListState {
  switch (action.type) {
    case "loaded":
      return { key: action.key, items: action.page.items, cursor: action.page.next_cursor, error: "", moreError: "" };
    case "failed":
      return { ...state, key: action.key, error: action.message, moreError: "" };
    case "more-loading":
      return action.key === state.key ? { ...state, moreError: "" } : state;
    case "more-loaded": {
      // A page for a filter or search that has since been replaced does not belong here.
      if (action.key !== state.key) return state;
      const seen = new Set(state.items.map((t) => t.id));
      const fresh = action.page.items.filter((t) => !seen.has(t.id));
      return { ...state, items: [...state.items, ...fresh], cursor: action.page.next_cursor };
    }
    case "more-failed":
      return action.key === state.key ? { ...state, moreError: action.message } : state;
    case "replaced":
      return { ...state, items: state.items.map((t) => (t.id === action.task.id ? action.task : t)) };
    case "removed":
      return { ...state, items: state.items.filter((t) => t.id !== action.id) };
    case "added":
      return { ...state, items: [action.task, ...state.items.filter((t) => t.id !== action.task.id)] };
  }
}

export function useTaskList(tasks: TasksClient) {
  const [request, setRequest] = useState<ListRequest>({ id: 0, filter: "all", query: "" });
  const { id: key, filter, query } = request;
  const [searchInput, setSearchInput] = useState("");
  const [state, dispatch] = useReducer(listReducer, INITIAL);
  const [loadingMore, setLoadingMore] = useState(false);
  const [actionError, setActionError] = useState("");

  // Debounced search: typing does not fire a request per keystroke.
  useEffect(() => {
    const q = searchInput.trim();
    const t = setTimeout(() => setRequest((r) => (r.query === q ? r : { ...r, id: r.id + 1, query: q })), SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [searchInput]);

  // First page, again whenever the filter or search changes; a superseded request is aborted.
  useEffect(() => {
    const { id, filter, query } = request;
    const controller = new AbortController();
    tasks.list({ status: filter, q: query, limit: PAGE_SIZE }, controller.signal).then(
      (page) => {
        if (!controller.signal.aborted) dispatch({ type: "loaded", key: id, page });
      },
      (err: unknown) => {
        if (controller.signal.aborted || sessionEnded(err)) return;
        dispatch({ type: "failed", key: id, message: errorMessage(err, "Could not load your tasks") });
      },
    );
    return () => controller.abort();
  }, [tasks, request]);

  // The status follows from which request the state belongs to: while a new one is under way,
  // the last good results stay on show; after a failure there is nothing to keep.
  const status: ListStatus =
    state.key === key
      ? state.error
        ? "error"
        : "ready"
      : state.key !== null && !state.error
        ? "refreshing"
        : "loading";

  const reload = () => setRequest((r) => ({ ...r, id: r.id + 1 }));
  const setFilter = (next: StatusFilter) =>
    setRequest((r) => (r.filter === next ? r : { ...r, id: r.id + 1, filter: next }));

  async function loadMore() {
    const cursor = state.cursor;
    if (!cursor || loadingMore) return;
    setLoadingMore(true);
    dispatch({ type: "more-loading", key });
    try {
      const page = await tasks.list({ status: filter, q: query, limit: PAGE_SIZE, cursor });
      dispatch({ type: "more-loaded", key, page });
    } catch (err) {
      if (!sessionEnded(err)) {
        dispatch({ type: "more-failed", key, message: errorMessage(err, "Could not load more tasks") });
      }
    } finally {
      setLoadingMore(false);
    }
  }

  /** Shows the change at once and puts the task back if the service refuses it. Resolves to
   * the updated task, or null when it failed (actionError then says why). */
  async function toggle(task: Task): Promise<Task | null> {
    const completed = !task.completed;
    setActionError("");
    dispatch({ type: "replaced", task: { ...task, completed } });
    try {
      const updated = await tasks.update(task.id, { completed });
      if (matchesFilter(updated, filter)) dispatch({ type: "replaced", task: updated });
      else dispatch({ type: "removed", id: task.id });
      return updated;
    } catch (err) {
      dispatch({ type: "replaced", task });
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not update the task"));
      return null;
    }
  }

  /** Throws ApiError for the editor to place next to its fields. */
  async function save(task: Task, patch: TaskPatch): Promise<Task> {
    setActionError("");
    const updated = await tasks.update(task.id, patch);
    // An edit can move a task in or out of the search's results: ask the service again.
    if (query) reload();
    else dispatch({ type: "replaced", task: updated });
    return updated;
  }

  /** Resolves to whether the task was deleted (actionError says why not). */
  async function remove(task: Task): Promise<boolean> {
    setActionError("");
    try {
      await tasks.remove(task.id);
      dispatch({ type: "removed", id: task.id });
      return true;
    } catch (err) {
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not delete the task"));
      return false;
    }
  }

  /** A task created elsewhere on the screen; returns whether the current filter shows it. */
  function added(task: Task): boolean {
    const shown = matchesFilter(task, filter);
    if (query) reload();
    else if (shown) dispatch({ type: "added", task });
    return shown;
  }

  return {
    filter,
    setFilter,
    searchInput,
    setSearchInput,
    /** The search the list shows (trimmed, after the debounce). */
    query,
    status,
    items: state.items,
    error: state.error,
    hasMore: Boolean(state.cursor),
    loadingMore,
    moreError: state.moreError,
    loadMore,
    reload,
    actionError,
    dismissActionError: () => setActionError(""),
    toggle,
    save,
    remove,
    added,
  };
}
