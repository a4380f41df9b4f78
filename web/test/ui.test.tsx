// @vitest-environment jsdom
/** The screens against the fake services: what a person sees and what assistive technology gets. */
import { act, cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App } from "../src/App";
import { AccountClient } from "../src/api/account";
import { EmailClient } from "../src/api/email";
import { SessionManager } from "../src/api/session";
import { TasksClient, type Task } from "../src/api/tasks";
import { AUTH, FakeServer, secondFactors, TASKS, problem } from "./fakes";

let server: FakeServer;
let session: SessionManager;

function task(id: string, title: string, extra: Partial<Task> = {}): Task {
  return {
    id,
    title,
    description: null,
    completed: false,
    created_at: "2026-05-01T10:00:00Z",
    updated_at: "2026-05-01T10:00:00Z",
    completed_at: null,
    ...extra,
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function renderApp() {
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const tasks = new TasksClient(TASKS, session);
  const account = new AccountClient(AUTH, session);
  const email = new EmailClient(AUTH, session, server.fetch);
  return render(<App session={session} tasks={tasks} account={account} email={email} {...secondFactors(session, server)} />);
}

async function signedInWith(items: Task[], next_cursor: string | null = null) {
  server.seedCookie();
  server.handlers.set("GET /api/tasks", () => Response.json({ items, next_cursor }));
  renderApp();
  await screen.findByRole("heading", { name: "Your tasks" });
  await waitFor(() => expect(screen.queryByText("Loading tasks…")).toBeNull());
}

beforeEach(() => {
  server = new FakeServer();
});

afterEach(() => {
  cleanup();
  session?.dispose();
});

describe("signing in and up", () => {
  it("shows the sign-in form when there is no session", async () => {
    renderApp();
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
    expect(screen.getByLabelText("Email")).toBeTruthy();
    expect(screen.getByLabelText("Password")).toBeTruthy();
  });

  it("announces a wrong password as an alert", async () => {
    server.handlers.set("POST /api/auth/signin", () => problem(401, "invalid_credentials"));
    const user = userEvent.setup();
    renderApp();
    await user.type(await screen.findByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "wrong password");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Wrong email or password.");
  });

  it("puts 'email already registered' next to the email field", async () => {
    server.handlers.set("POST /api/auth/signup", () => problem(409, "email_taken"));
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByRole("button", { name: "Create an account" }));
    await user.type(screen.getByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "a fine long passphrase");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    const email = screen.getByLabelText("Email");
    await waitFor(() => expect(email.getAttribute("aria-invalid")).toBe("true"));
    const errorId = email.getAttribute("aria-describedby")!.split(" ")[0]!;
    const message = document.getElementById(errorId)!;
    expect(message.getAttribute("role")).toBe("alert");
    expect(message.textContent).toMatch(/already exists/);
    expect(document.activeElement).toBe(email);
    // and a way to the sign-in form, keeping the email
    await user.click(within(message).getByRole("button", { name: "Sign in instead" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
    expect((screen.getByLabelText("Email") as HTMLInputElement).value).toBe("alice@example.com");
  });

  it("places each validation error from `errors` on its field", async () => {
    server.handlers.set("POST /api/auth/signup", () =>
      problem(422, "validation_failed", {
        errors: [
          { field: "email", code: "invalid_email", message: "not an email" },
          { field: "password", code: "password_too_short", message: "too short" },
        ],
      }),
    );
    const user = userEvent.setup();
    renderApp();
    await user.click(await screen.findByRole("button", { name: "Create an account" }));
    await user.type(screen.getByLabelText("Email"), "nope");
    await user.type(screen.getByLabelText("Password"), "short");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    const alerts = await screen.findAllByRole("alert");
    expect(alerts.map((a) => a.textContent)).toEqual([
      expect.stringContaining("valid email address"),
      expect.stringContaining("at least 8 characters"),
    ]);
  });

  it("says when the network is down and retries on request", async () => {
    server.offline = true;
    const user = userEvent.setup();
    renderApp();
    // Even the start-up restore cannot reach the service: it says so, and offers a retry.
    expect((await screen.findByRole("alert")).textContent).toMatch(/Can't reach the server/);
    server.offline = false;
    await user.click(screen.getByRole("button", { name: "Try again" }));
    await screen.findByRole("heading", { name: "Sign in" });

    server.offline = true;
    await user.type(screen.getByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "a fine long passphrase");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/Can't reach the server/);
    server.offline = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("heading", { name: "Your tasks" })).toBeTruthy();
  });

  it("tells the person when the session has ended", async () => {
    await signedInWith([task("t1", "Buy milk")]);
    server.cookie = null; // revoked elsewhere
    server.validAccess.clear();
    await act(() => session.refresh().catch(() => undefined));
    expect(await screen.findByText("Your session has ended. Please sign in again.")).toBeTruthy();
  });
});

describe("the task list", () => {
  it("is a list whose items each have a checkbox named by the task's title", async () => {
    await signedInWith([task("t1", "Buy milk", { completed: true }), task("t2", "Walk the dog")]);
    const list = screen.getByRole("list", { name: "Tasks" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect((within(list).getByRole("checkbox", { name: "Buy milk" }) as HTMLInputElement).checked).toBe(true);
    expect((within(list).getByRole("checkbox", { name: "Walk the dog" }) as HTMLInputElement).checked).toBe(false);
    expect(within(list).getByRole("button", { name: "Edit “Walk the dog”" })).toBeTruthy();
    expect(within(list).getByRole("button", { name: "Delete “Walk the dog”" })).toBeTruthy();
  });

  it("shows an empty state", async () => {
    await signedInWith([]);
    expect(screen.getByText("No tasks yet. Add your first one above.")).toBeTruthy();
  });

  it("puts a failed toggle back and says why", async () => {
    await signedInWith([task("t1", "Buy milk")]);
    server.handlers.set("PATCH /api/tasks/t1", () => problem(500, "internal"));
    const user = userEvent.setup();
    const box = screen.getByRole("checkbox", { name: "Buy milk" }) as HTMLInputElement;
    await user.click(box);
    expect((await screen.findByRole("alert")).textContent).toMatch(/server had a problem/);
    expect(box.checked).toBe(false);
  });

  it("adds a task at the top and clears the form", async () => {
    await signedInWith([task("t1", "Older")]);
    server.handlers.set("POST /api/tasks", (c) => {
      const body = JSON.parse(c.body!);
      return Response.json(task("t2", body.title, { description: body.description ?? null }), { status: 201 });
    });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Title"), "Newer");
    await user.type(screen.getByLabelText("Description"), "with details");
    await user.click(screen.getByRole("button", { name: "Add task" }));
    await screen.findByRole("checkbox", { name: "Newer" });
    const titles = screen.getAllByRole("checkbox").map((b) => (b as HTMLInputElement).labels?.[0]?.textContent);
    expect(titles).toEqual(["Newer", "Older"]);
    expect((screen.getByLabelText("Title") as HTMLInputElement).value).toBe("");
    expect(screen.getByText("with details")).toBeTruthy();
  });

  it("asks before deleting, and deletes on confirmation", async () => {
    await signedInWith([task("t1", "Buy milk"), task("t2", "Walk the dog")]);
    let deleted = "";
    server.handlers.set("DELETE /api/tasks/t1", () => {
      deleted = "t1";
      return new Response(null, { status: 204 });
    });
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Delete “Buy milk”" }));
    const dialog = screen.getByRole("dialog", { name: "Delete this task?" });
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(screen.queryByRole("checkbox", { name: "Buy milk" })).toBeNull());
    expect(deleted).toBe("t1");
    expect(screen.getByRole("checkbox", { name: "Walk the dog" })).toBeTruthy();
  });

  it("loads more with the cursor, and offers a retry when that fails", async () => {
    await signedInWith([task("t1", "First")], "cursor-1");
    const user = userEvent.setup();
    server.handlers.set("GET /api/tasks", () => problem(503, "not_ready"));
    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/starting up or unavailable/);
    server.handlers.set("GET /api/tasks", (c) => {
      expect(new URL(c.url).searchParams.get("cursor")).toBe("cursor-1");
      return Response.json({ items: [task("t2", "Second")], next_cursor: null });
    });
    await user.click(screen.getByRole("button", { name: "Try again" }));
    await screen.findByRole("checkbox", { name: "Second" });
    expect(screen.queryByRole("button", { name: /Load more|Try again/ })).toBeNull();
  });

  it("keeps the list on show, marked busy, while another filter loads", async () => {
    await signedInWith([task("t1", "Buy milk"), task("t2", "Walk the dog", { completed: true })]);
    const next = deferred<Response>();
    server.handlers.set("GET /api/tasks", () => next.promise);
    const user = userEvent.setup();
    await user.click(screen.getByRole("radio", { name: "Completed" }));
    const list = screen.getByRole("list", { name: "Tasks" });
    expect(list.getAttribute("aria-busy")).toBe("true");
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    expect(screen.getByText("Updating the list…")).toBeTruthy();
    next.resolve(Response.json({ items: [task("t2", "Walk the dog", { completed: true })], next_cursor: null }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    expect(list.getAttribute("aria-busy")).toBeNull();
    expect(screen.queryByText("Updating the list…")).toBeNull();
  });

  it("shows the answer to the last filter chosen, whichever answer comes first", async () => {
    await signedInWith([task("t1", "Buy milk")]);
    const answers = new Map<string, ReturnType<typeof deferred<Response>>>();
    server.handlers.set("GET /api/tasks", (c) => {
      const answer = deferred<Response>();
      answers.set(new URL(c.url).searchParams.get("status") ?? "all", answer);
      return answer.promise;
    });
    const user = userEvent.setup();
    await user.click(screen.getByRole("radio", { name: "Completed" }));
    await user.click(screen.getByRole("radio", { name: "Pending" }));
    answers.get("pending")!.resolve(Response.json({ items: [task("p1", "Pending one")], next_cursor: null }));
    await screen.findByRole("checkbox", { name: "Pending one" });
    answers.get("completed")!.resolve(
      Response.json({ items: [task("c1", "Done one", { completed: true })], next_cursor: null }),
    );
    await act(() => new Promise((r) => setTimeout(r, 20)));
    expect(screen.queryByRole("checkbox", { name: "Done one" })).toBeNull();
    expect(screen.getByRole("checkbox", { name: "Pending one" })).toBeTruthy();
  });

  it("does not add a later page of a filter that is no longer shown", async () => {
    await signedInWith([task("t1", "First")], "cursor-1");
    const more = deferred<Response>();
    server.handlers.set("GET /api/tasks", (c) =>
      new URL(c.url).searchParams.get("cursor")
        ? more.promise
        : Response.json({ items: [task("c1", "Done one", { completed: true })], next_cursor: null }),
    );
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await user.click(screen.getByRole("radio", { name: "Completed" }));
    await screen.findByRole("checkbox", { name: "Done one" });
    more.resolve(Response.json({ items: [task("t2", "Second")], next_cursor: null }));
    await act(() => new Promise((r) => setTimeout(r, 20)));
    expect(screen.queryByRole("checkbox", { name: "Second" })).toBeNull();
    expect(within(screen.getByRole("list", { name: "Tasks" })).getAllByRole("listitem")).toHaveLength(1);
  });

  it("signs out and returns to the sign-in form", async () => {
    await signedInWith([]);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await screen.findByRole("heading", { name: "Sign in" });
    expect(server.calls.at(-1)!.url).toBe(`${AUTH}/api/auth/signout`);
    expect(session.current).toEqual({ status: "signed-out", reason: "signed-out" });
  });
});
