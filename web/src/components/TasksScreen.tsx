import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type RefObject } from "react";
import { ApiError, NetworkError } from "../api/errors";
import type { SessionManager, User } from "../api/session";
import type { StatusFilter, Task, TaskPatch, TasksClient } from "../api/tasks";
import { errorMessage, splitFieldErrors } from "../messages";
import { ConfirmDialog } from "./ConfirmDialog";
import { Field } from "./Field";
import { Logo } from "./Logo";
import { TaskItem } from "./TaskItem";

export const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;

const FILTERS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "pending", label: "Pending" },
  { value: "completed", label: "Completed" },
];

/** "loading": nothing to show yet; "refreshing": the previous results stay (dimmed) while the
 * next filter or search loads, so typing in the search box does not make the list flicker. */
type ListStatus = "loading" | "refreshing" | "ready" | "error";

/** A session that ended shows the sign-in screen by itself; nothing to report here. */
const sessionEnded = (err: unknown) => err instanceof ApiError && err.status === 401;

function matchesFilter(task: Task, filter: StatusFilter) {
  return filter === "all" || (filter === "completed") === task.completed;
}

export function TasksScreen({
  session,
  tasks,
  user,
}: {
  session: SessionManager;
  tasks: TasksClient;
  user: User;
}) {
  const [filter, setFilter] = useState<StatusFilter>("all");
  const [searchInput, setSearchInput] = useState("");
  const [query, setQuery] = useState("");
  const [items, setItems] = useState<Task[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [listStatus, setListStatus] = useState<ListStatus>("loading");
  const [listError, setListError] = useState("");
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState("");
  const [actionError, setActionError] = useState("");
  const [announcement, setAnnouncement] = useState("");
  const [confirming, setConfirming] = useState<Task | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const [signOutError, setSignOutError] = useState("");
  const [reloadKey, setReloadKey] = useState(0);

  const headingRef = useRef<HTMLHeadingElement>(null);
  const titleRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const filterName = useId();

  useEffect(() => headingRef.current?.focus(), []);

  // Debounced search: typing does not fire a request per keystroke.
  useEffect(() => {
    const t = setTimeout(() => setQuery(searchInput.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [searchInput]);

  // First page, again whenever the filter or search changes; a superseded request is aborted.
  useEffect(() => {
    const controller = new AbortController();
    setListStatus((prev) => (prev === "ready" || prev === "refreshing" ? "refreshing" : "loading"));
    setListError("");
    setMoreError("");
    tasks.list({ status: filter, q: query, limit: PAGE_SIZE }, controller.signal).then(
      (page) => {
        setItems(page.items);
        setCursor(page.next_cursor);
        setListStatus("ready");
      },
      (err: unknown) => {
        if (controller.signal.aborted || sessionEnded(err)) return;
        setListError(errorMessage(err, "Could not load your tasks"));
        setListStatus("error");
      },
    );
    return () => controller.abort();
  }, [tasks, filter, query, reloadKey]);

  const reload = () => setReloadKey((k) => k + 1);

  async function loadMore() {
    if (!cursor || loadingMore) return;
    setLoadingMore(true);
    setMoreError("");
    try {
      const page = await tasks.list({ status: filter, q: query, limit: PAGE_SIZE, cursor });
      setItems((prev) => {
        const seen = new Set(prev.map((t) => t.id));
        return [...prev, ...page.items.filter((t) => !seen.has(t.id))];
      });
      setCursor(page.next_cursor);
    } catch (err) {
      if (!sessionEnded(err)) setMoreError(errorMessage(err, "Could not load more tasks"));
    } finally {
      setLoadingMore(false);
    }
  }

  const announce = useCallback((message: string) => {
    // Cleared first so the same sentence twice is still announced.
    setAnnouncement("");
    requestAnimationFrame(() => setAnnouncement(message));
  }, []);

  const replace = (task: Task) => setItems((prev) => prev.map((t) => (t.id === task.id ? task : t)));

  async function toggle(task: Task) {
    const completed = !task.completed;
    setActionError("");
    replace({ ...task, completed });
    try {
      const updated = await tasks.update(task.id, { completed });
      if (matchesFilter(updated, filter)) replace(updated);
      else setItems((prev) => prev.filter((t) => t.id !== task.id));
      announce(`“${updated.title}” marked ${completed ? "completed" : "not completed"}.`);
    } catch (err) {
      replace(task);
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not update the task"));
    }
  }

  /** Throws ApiError for the editor to place next to its fields. */
  async function save(task: Task, patch: TaskPatch) {
    setActionError("");
    const updated = await tasks.update(task.id, patch);
    if (query) reload();
    else replace(updated);
    announce(`Saved “${updated.title}”.`);
  }

  async function confirmDelete() {
    const task = confirming;
    if (!task) return;
    setDeleting(true);
    setActionError("");
    const index = items.findIndex((t) => t.id === task.id);
    try {
      await tasks.remove(task.id);
      setItems((prev) => prev.filter((t) => t.id !== task.id));
      setConfirming(null);
      announce(`Deleted “${task.title}”.`);
      // Keep the keyboard where it was: the next task, else the previous one, else the add form.
      requestAnimationFrame(() => {
        const boxes = listRef.current?.querySelectorAll<HTMLInputElement>('input[type="checkbox"]');
        const next = boxes?.[Math.min(index, boxes.length - 1)];
        (next ?? titleRef.current)?.focus();
      });
    } catch (err) {
      setConfirming(null);
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not delete the task"));
    } finally {
      setDeleting(false);
    }
  }

  async function signOut() {
    setSigningOut(true);
    setSignOutError("");
    try {
      await session.signOut();
    } catch (err) {
      setSigningOut(false);
      setSignOutError(
        err instanceof NetworkError
          ? "Could not sign out: the server can't be reached. You are still signed in."
          : errorMessage(err, "Could not sign out"),
      );
    }
  }

  function onCreated(task: Task) {
    if (query) reload();
    else if (matchesFilter(task, filter)) setItems((prev) => [task, ...prev.filter((t) => t.id !== task.id)]);
    announce(
      matchesFilter(task, filter)
        ? `Added “${task.title}”.`
        : `Added “${task.title}”. It is not shown under “${filter}”.`,
    );
  }

  const emptyMessage = query
    ? `No tasks match “${query}”.`
    : filter === "pending"
      ? "Nothing pending. Nice work!"
      : filter === "completed"
        ? "No completed tasks yet."
        : "No tasks yet. Add your first one above.";

  return (
    <div className="app">
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
            <button type="button" className="btn btn-ghost btn-small" onClick={signOut} disabled={signingOut}>
              {signingOut ? "Signing out…" : "Sign out"}
            </button>
          </div>
        </div>
      </header>

      <main className="content">
        {signOutError && (
          <div className="alert alert-error" role="alert">
            <span>{signOutError}</span>
            <button type="button" className="btn btn-small" onClick={signOut} disabled={signingOut}>
              Try again
            </button>
          </div>
        )}

        <h1 ref={headingRef} tabIndex={-1} className="page-title">
          Your tasks
        </h1>

        <AddTaskForm tasks={tasks} titleRef={titleRef} onCreated={onCreated} />

        <section className="card list-card" aria-labelledby="list-heading">
          <h2 id="list-heading" className="sr-only">
            Task list
          </h2>
          <div className="toolbar">
            <fieldset className="segmented">
              <legend className="sr-only">Show</legend>
              {FILTERS.map((f) => (
                <label key={f.value} className={filter === f.value ? "selected" : undefined}>
                  <input
                    type="radio"
                    name={filterName}
                    value={f.value}
                    checked={filter === f.value}
                    onChange={() => setFilter(f.value)}
                  />
                  <span>{f.label}</span>
                </label>
              ))}
            </fieldset>
            <div className="search">
              <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
                <path
                  d="M8.5 3a5.5 5.5 0 014.38 8.82l3.65 3.65-1.06 1.06-3.65-3.65A5.5 5.5 0 118.5 3zm0 1.5a4 4 0 100 8 4 4 0 000-8z"
                  fill="currentColor"
                />
              </svg>
              <input
                type="search"
                aria-label="Search tasks"
                placeholder="Search tasks"
                value={searchInput}
                onChange={(e) => setSearchInput(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Escape" && searchInput) {
                    e.preventDefault();
                    setSearchInput("");
                  }
                }}
              />
            </div>
          </div>

          {actionError && (
            <div className="alert alert-error" role="alert">
              <span>{actionError}</span>
              <button type="button" className="btn btn-small btn-ghost" onClick={() => setActionError("")}>
                Dismiss
              </button>
            </div>
          )}

          {(listStatus === "loading" || (listStatus === "refreshing" && items.length === 0)) && (
            <div className="list-state" role="status">
              <div className="spinner small" aria-hidden="true" />
              <span>Loading tasks…</span>
            </div>
          )}

          {listStatus === "error" && (
            <div className="list-state">
              <div className="alert alert-error" role="alert">
                <span>{listError}</span>
                <button type="button" className="btn btn-small" onClick={reload}>
                  Try again
                </button>
              </div>
            </div>
          )}

          {listStatus === "refreshing" && items.length > 0 && (
            <p className="sr-only" role="status">
              Updating the list…
            </p>
          )}

          {listStatus === "ready" && items.length === 0 && (
            <div className="list-state empty">
              <svg viewBox="0 0 48 48" width="48" height="48" aria-hidden="true" focusable="false">
                <rect x="8" y="6" width="32" height="36" rx="6" fill="none" stroke="currentColor" strokeWidth="2.5" />
                <path d="M16 18h16M16 26h16M16 34h9" stroke="currentColor" strokeWidth="2.5" strokeLinecap="round" />
              </svg>
              <p>{emptyMessage}</p>
            </div>
          )}

          {(listStatus === "ready" || listStatus === "refreshing") && items.length > 0 && (
            <ul
              className={listStatus === "refreshing" ? "tasks refreshing" : "tasks"}
              aria-label="Tasks"
              aria-busy={listStatus === "refreshing" || undefined}
              ref={listRef}
            >
              {items.map((task) => (
                <TaskItem
                  key={task.id}
                  task={task}
                  onToggle={() => toggle(task)}
                  onSave={(patch) => save(task, patch)}
                  onDelete={() => setConfirming(task)}
                />
              ))}
            </ul>
          )}

          {listStatus === "ready" && cursor && (
            <div className="more">
              {moreError && (
                <p className="alert alert-error" role="alert">
                  {moreError}
                </p>
              )}
              <button type="button" className="btn" onClick={loadMore} disabled={loadingMore}>
                {loadingMore ? "Loading…" : moreError ? "Try again" : "Load more"}
              </button>
            </div>
          )}
        </section>

        <p className="sr-only" role="status" aria-live="polite">
          {announcement}
        </p>
      </main>

      {confirming && (
        <ConfirmDialog
          title="Delete this task?"
          confirmLabel={deleting ? "Deleting…" : "Delete"}
          busy={deleting}
          onConfirm={confirmDelete}
          onCancel={() => setConfirming(null)}
        >
          <p>
            “<strong>{confirming.title}</strong>” will be deleted. This can't be undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function AddTaskForm({
  tasks,
  titleRef,
  onCreated,
}: {
  tasks: TasksClient;
  titleRef: RefObject<HTMLInputElement | null>;
  onCreated: (task: Task) => void;
}) {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ title?: string; description?: string; form?: string; retry?: boolean }>({});
  const headingId = useId();

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    if (title.trim() === "") {
      setErrors({ title: "Give the task a title." });
      titleRef.current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const task = await tasks.create({ title: title.trim(), description: description.trim() || null });
      setTitle("");
      setDescription("");
      onCreated(task);
      titleRef.current?.focus();
    } catch (err) {
      if (sessionEnded(err)) return;
      const { byField, rest } = splitFieldErrors(err, ["title", "description"]);
      const form =
        rest.join(" ") ||
        (Object.keys(byField).length ? undefined : errorMessage(err, "Could not add the task"));
      setErrors({ ...byField, form, retry: err instanceof NetworkError });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card add-card" aria-labelledby={headingId}>
      <h2 id={headingId} className="card-title">
        Add a task
      </h2>
      {errors.form && (
        <div className="alert alert-error" role="alert">
          <span>{errors.form}</span>
          {errors.retry && (
            <button type="button" className="btn btn-small" onClick={() => void submit()} disabled={busy}>
              Try again
            </button>
          )}
        </div>
      )}
      <form onSubmit={submit} noValidate className="add-form">
        <Field
          label="Title"
          error={errors.title}
          inputRef={titleRef}
          input={{
            type: "text",
            placeholder: "What needs doing?",
            maxLength: 200,
            autoComplete: "off",
            value: title,
            onChange: (e) => setTitle(e.target.value),
          }}
        />
        <Field
          label="Description"
          hint="Optional"
          error={errors.description}
          textarea={{
            rows: 2,
            maxLength: 1000,
            placeholder: "Details, links, notes…",
            value: description,
            onChange: (e) => setDescription(e.target.value),
            onKeyDown: (e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void submit();
              }
            },
          }}
        />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Adding…" : "Add task"}
          </button>
        </div>
      </form>
    </section>
  );
}
