import { useId, useState, type FormEvent, type RefObject } from "react";
import { NetworkError } from "../api/errors";
import type { Task, TasksClient } from "../api/tasks";
import { errorMessage, sessionEnded, splitFieldErrors } from "../messages";
import { Field } from "./Field";

/** The "Add a task" card: title and optional description, errors placed on their fields.
 * `titleRef` is the screen's too: it puts the keyboard back here after a deletion. */
export function AddTaskForm({
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
