import type { Ref } from "react";
import type { StatusFilter, Task, TaskPatch } from "../api/tasks";
import type { ListStatus } from "../hooks/useTaskList";
import { TaskItem } from "./TaskItem";

function emptyMessage(filter: StatusFilter, query: string) {
  if (query) return `No tasks match “${query}”.`;
  if (filter === "pending") return "Nothing pending. Nice work!";
  if (filter === "completed") return "No completed tasks yet.";
  return "No tasks yet. Add your first one above.";
}

/** The tasks, or why there are none to show: loading, a failure with a retry, or empty. */
export function TaskList({
  listRef,
  ...props
}: {
  status: ListStatus;
  items: Task[];
  error: string;
  filter: StatusFilter;
  query: string;
  listRef: Ref<HTMLUListElement>;
  onRetry: () => void;
  onToggle: (task: Task) => void;
  onSave: (task: Task, patch: TaskPatch) => Promise<void>;
  onDelete: (task: Task) => void;
}) {
  const { status, items } = props;
  return (
    <>
      {(status === "loading" || (status === "refreshing" && items.length === 0)) && (
        <div className="list-state" role="status">
          <div className="spinner small" aria-hidden="true" />
          <span>Loading tasks…</span>
        </div>
      )}

      {status === "error" && (
        <div className="list-state">
          <div className="alert alert-error" role="alert">
            <span>{props.error}</span>
            <button type="button" className="btn btn-small" onClick={props.onRetry}>
              Try again
            </button>
          </div>
        </div>
      )}

      {status === "refreshing" && items.length > 0 && (
        <p className="sr-only" role="status">
          Updating the list…
        </p>
      )}

      {status === "ready" && items.length === 0 && (
        <div className="list-state empty">
          <svg viewBox="0 0 48 48" width="48" height="48" aria-hidden="true" focusable="false">
            <rect x="8" y="6" width="32" height="36" rx="6" fill="none" stroke="currentColor" strokeWidth="2.5" />
            <path d="M16 18h16M16 26h16M16 34h9" stroke="currentColor" strokeWidth="2.5" strokeLinecap="round" />
          </svg>
          <p>{emptyMessage(props.filter, props.query)}</p>
        </div>
      )}

      {(status === "ready" || status === "refreshing") && items.length > 0 && (
        <ul
          className={status === "refreshing" ? "tasks refreshing" : "tasks"}
          aria-label="Tasks"
          aria-busy={status === "refreshing" || undefined}
          ref={listRef}
        >
          {items.map((task) => (
            <TaskItem
              key={task.id}
              task={task}
              onToggle={() => props.onToggle(task)}
              onSave={(patch) => props.onSave(task, patch)}
              onDelete={() => props.onDelete(task)}
            />
          ))}
        </ul>
      )}
    </>
  );
}
