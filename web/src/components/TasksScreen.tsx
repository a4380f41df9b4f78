import { useEffect, useRef, useState } from "react";
import type { EmailClient } from "../api/email";
import type { SessionManager, User } from "../api/session";
import type { Task, TaskPatch, TasksClient } from "../api/tasks";
import { useAnnouncement } from "../hooks/useAnnouncement";
import { useTaskList } from "../hooks/useTaskList";
import { AddTaskForm } from "./AddTaskForm";
import { DeleteTaskDialog } from "./DeleteTaskDialog";
import { LoadMore } from "./LoadMore";
import { SignedInPage } from "./SignedInPage";
import { TaskFilterBar } from "./TaskFilterBar";
import { TaskList } from "./TaskList";

/** The task page: puts the pieces together and says what happened (the polite status
 * region) and where the keyboard goes. The list's data lives in useTaskList. */
export function TasksScreen({
  session,
  tasks,
  email,
  user,
}: {
  session: SessionManager;
  email: EmailClient;
  tasks: TasksClient;
  user: User;
}) {
  const list = useTaskList(tasks);
  const [announcement, announce] = useAnnouncement();
  const [confirming, setConfirming] = useState<Task | null>(null);

  const headingRef = useRef<HTMLHeadingElement>(null);
  const titleRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => headingRef.current?.focus(), []);

  async function toggle(task: Task) {
    const completed = !task.completed;
    const updated = await list.toggle(task);
    if (updated) announce(`“${updated.title}” marked ${completed ? "completed" : "not completed"}.`);
  }

  async function save(task: Task, patch: TaskPatch) {
    const updated = await list.save(task, patch);
    announce(`Saved “${updated.title}”.`);
  }

  async function deleteConfirmed(task: Task) {
    const index = list.items.findIndex((t) => t.id === task.id);
    const deleted = await list.remove(task);
    setConfirming(null);
    if (!deleted) return;
    announce(`Deleted “${task.title}”.`);
    // Keep the keyboard where it was: the next task, else the previous one, else the add form.
    requestAnimationFrame(() => {
      const boxes = listRef.current?.querySelectorAll<HTMLInputElement>('input[type="checkbox"]');
      const next = boxes?.[Math.min(index, boxes.length - 1)];
      (next ?? titleRef.current)?.focus();
    });
  }

  function created(task: Task) {
    const shown = list.added(task);
    announce(shown ? `Added “${task.title}”.` : `Added “${task.title}”. It is not shown under “${list.filter}”.`);
  }

  return (
    <SignedInPage session={session} email={email} user={user}>
      <h1 ref={headingRef} tabIndex={-1} className="page-title">
        Your tasks
      </h1>

      <AddTaskForm tasks={tasks} titleRef={titleRef} onCreated={created} />

      <section className="card list-card" aria-labelledby="list-heading">
        <h2 id="list-heading" className="sr-only">
          Task list
        </h2>
        <TaskFilterBar
          filter={list.filter}
          onFilterChange={list.setFilter}
          search={list.searchInput}
          onSearchChange={list.setSearchInput}
        />

        {list.actionError && (
          <div className="alert alert-error" role="alert">
            <span>{list.actionError}</span>
            <button type="button" className="btn btn-small btn-ghost" onClick={list.dismissActionError}>
              Dismiss
            </button>
          </div>
        )}

        <TaskList
          status={list.status}
          items={list.items}
          error={list.error}
          filter={list.filter}
          query={list.query}
          listRef={listRef}
          onRetry={list.reload}
          onToggle={toggle}
          onSave={save}
          onDelete={setConfirming}
        />

        {list.status === "ready" && list.hasMore && (
          <LoadMore busy={list.loadingMore} error={list.moreError} onLoadMore={list.loadMore} />
        )}
      </section>

      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      {confirming && (
        <DeleteTaskDialog task={confirming} onDelete={deleteConfirmed} onCancel={() => setConfirming(null)} />
      )}
    </SignedInPage>
  );
}
