import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { NetworkError } from "../api/errors";
import type { Task, TaskPatch } from "../api/tasks";
import { errorMessage, splitFieldErrors } from "../messages";
import { Field } from "./Field";

const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

function shortDate(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : dateFormat.format(d);
}

export function TaskItem(props: {
  task: Task;
  onToggle: () => void;
  onSave: (patch: TaskPatch) => Promise<void>;
  onDelete: () => void;
}) {
  const { task } = props;
  const [editing, setEditing] = useState(false);
  const checkboxId = useId();
  const editRef = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);

  // After the editor closes, the keyboard goes back to the Edit button.
  useEffect(() => {
    if (wasEditing.current && !editing) editRef.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  if (editing) {
    return (
      <li className="task editing">
        <TaskEditor task={task} onSave={props.onSave} onClose={() => setEditing(false)} />
      </li>
    );
  }

  const when = task.completed && task.completed_at ? `Done ${shortDate(task.completed_at)}` : `Added ${shortDate(task.created_at)}`;

  return (
    <li className={task.completed ? "task done" : "task"}>
      <input id={checkboxId} type="checkbox" className="task-check" checked={task.completed} onChange={props.onToggle} />
      <div className="task-body">
        <label htmlFor={checkboxId} className="task-title">
          {task.title}
        </label>
        {task.description && <p className="task-desc">{task.description}</p>}
        <p className="task-meta">{when}</p>
      </div>
      <div className="task-actions">
        <button
          ref={editRef}
          type="button"
          className="btn btn-ghost btn-icon"
          aria-label={`Edit “${task.title}”`}
          onClick={() => setEditing(true)}
        >
          <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
            <path
              d="M13.6 2.9a2 2 0 012.8 0l.7.7a2 2 0 010 2.8l-9.4 9.4-3.9 1 1-3.9 8.8-9.4zm1.4 1.1l-8.5 8.5-.5 1.9 1.9-.5L16.4 5.4l-1.4-1.4z"
              fill="currentColor"
            />
          </svg>
          <span className="btn-text">Edit</span>
        </button>
        <button
          type="button"
          className="btn btn-ghost btn-icon btn-danger-ghost"
          aria-label={`Delete “${task.title}”`}
          onClick={props.onDelete}
        >
          <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
            <path
              d="M8 2h4a1 1 0 011 1v1h4v1.5H3V4h4V3a1 1 0 011-1zm-3 5h10l-.7 9.1A2 2 0 0112.3 18H7.7a2 2 0 01-2-1.9L5 7zm1.6 1.5l.6 7.6c0 .2.2.4.5.4h4.6c.3 0 .5-.2.5-.4l.6-7.6H6.6z"
              fill="currentColor"
            />
          </svg>
          <span className="btn-text">Delete</span>
        </button>
      </div>
    </li>
  );
}

function TaskEditor(props: { task: Task; onSave: (patch: TaskPatch) => Promise<void>; onClose: () => void }) {
  const { task } = props;
  const [title, setTitle] = useState(task.title);
  const [description, setDescription] = useState(task.description ?? "");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ title?: string; description?: string; form?: string; retry?: boolean }>({});
  const titleRef = useRef<HTMLInputElement>(null);
  const formId = useId();

  useEffect(() => {
    titleRef.current?.focus();
    titleRef.current?.select();
  }, []);

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    if (title.trim() === "") {
      setErrors({ title: "A task needs a title." });
      titleRef.current?.focus();
      return;
    }
    const patch: TaskPatch = {};
    if (title.trim() !== task.title) patch.title = title.trim();
    const desc = description.trim() === "" ? null : description.trim();
    if (desc !== task.description) patch.description = desc;
    if (Object.keys(patch).length === 0) {
      props.onClose();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await props.onSave(patch);
      props.onClose();
    } catch (err) {
      setBusy(false);
      const { byField, rest } = splitFieldErrors(err, ["title", "description"]);
      const form =
        rest.join(" ") || (Object.keys(byField).length ? undefined : errorMessage(err, "Could not save the task"));
      setErrors({ ...byField, form, retry: err instanceof NetworkError });
    }
  }

  return (
    <form
      className="task-editor"
      onSubmit={submit}
      noValidate
      aria-label={`Edit “${task.title}”`}
      id={formId}
      onKeyDown={(e) => {
        if (e.key === "Escape" && !busy) {
          e.preventDefault();
          props.onClose();
        }
      }}
    >
      {errors.form && (
        <div className="alert alert-error" role="alert">
          <span>{errors.form}</span>
          {errors.retry && (
            <button type="button" className="btn btn-small" onClick={() => void submit()}>
              Try again
            </button>
          )}
        </div>
      )}
      <Field
        label="Title"
        error={errors.title}
        inputRef={titleRef}
        input={{ type: "text", maxLength: 200, value: title, onChange: (e) => setTitle(e.target.value) }}
      />
      <Field
        label="Description"
        hint="Optional"
        error={errors.description}
        textarea={{ rows: 3, maxLength: 1000, value: description, onChange: (e) => setDescription(e.target.value) }}
      />
      <div className="form-actions">
        <button type="button" className="btn" onClick={props.onClose} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}
