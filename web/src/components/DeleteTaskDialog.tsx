import { useState } from "react";
import type { Task } from "../api/tasks";
import { ConfirmDialog } from "./ConfirmDialog";

/** Asks before a task is deleted; busy (and not cancellable) while the deletion is under way. */
export function DeleteTaskDialog(props: { task: Task; onDelete: (task: Task) => Promise<void>; onCancel: () => void }) {
  const { task } = props;
  const [deleting, setDeleting] = useState(false);

  async function confirm() {
    setDeleting(true);
    try {
      await props.onDelete(task);
    } finally {
      setDeleting(false);
    }
  }

  return (
    <ConfirmDialog
      title="Delete this task?"
      confirmLabel={deleting ? "Deleting…" : "Delete"}
      busy={deleting}
      onConfirm={() => void confirm()}
      onCancel={props.onCancel}
    >
      <p>
        “<strong>{task.title}</strong>” will be deleted. This can't be undone.
      </p>
    </ConfirmDialog>
  );
}
