// @vitest-environment jsdom
/** The Account page against the fake services: getting there, the sessions list, changing the
 * password and deleting the account, as a person (and assistive technology) meets them. */
import { act, cleanup, render, renderHook, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { AccountClient, type SessionInfo } from "../src/api/account";
import { EmailClient } from "../src/api/email";
import { SessionManager } from "../src/api/session";
import { TasksClient } from "../src/api/tasks";
import { useSessions } from "../src/hooks/useSessions";
import { AUTH, FakeServer, secondFactors, TASKS, problem, someSessions } from "./fakes";

let server: FakeServer;
let session: SessionManager;

function renderApp(path = "/") {
  window.history.replaceState(null, "", path);
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const tasks = new TasksClient(TASKS, session);
  const account = new AccountClient(AUTH, session);
  const email = new EmailClient(AUTH, session, server.fetch);
  return render(<App session={session} tasks={tasks} account={account} email={email} {...secondFactors(session, server)} />);
}

async function onAccountPage() {
  server.seedCookie();
  renderApp("/account");
  await screen.findByRole("heading", { name: "Account", level: 1 });
  return screen.findByRole("list", { name: "Sessions" });
}

const calls = (method: string, path: string) =>
  server.calls.filter((c) => c.method === method && new URL(c.url).pathname === path);
const status = () => screen.getAllByRole("status").find((el) => el.getAttribute("aria-live") === "polite")!;
const describedBy = (el: HTMLElement) =>
  (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

beforeEach(() => {
  // Only the clock is fake: "2 minutes ago" needs a fixed now, the rest runs on real timers.
  vi.useFakeTimers({ now: new Date("2026-05-20T12:00:00Z"), toFake: ["Date"] });
  server = new FakeServer();
});

afterEach(() => {
  cleanup();
  session?.dispose();
  vi.useRealTimers();
  window.history.replaceState(null, "", "/");
});

describe("getting to the Account page", () => {
  it("opens from the header's Account link at /account, and Back returns to the tasks", async () => {
    server.seedCookie();
    renderApp("/");
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    let nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Your tasks" }).getAttribute("aria-current")).toBe("page");
    const user = userEvent.setup();
    await user.click(within(nav).getByRole("link", { name: "Account" }));

    const heading = await screen.findByRole("heading", { name: "Account", level: 1 });
    expect(window.location.pathname).toBe("/account");
    expect(document.activeElement).toBe(heading);
    nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Account" }).getAttribute("aria-current")).toBe("page");
    expect(within(nav).getByRole("link", { name: "Your tasks" }).getAttribute("aria-current")).toBeNull();
    await waitFor(() => expect(document.title).toBe("Account · Tasks"));

    act(() => window.history.back());
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(window.location.pathname).toBe("/");
    await waitFor(() => expect(document.title).toBe("Your tasks · Tasks"));
  });

  it("is a real link (a new tab opens /account) that moves within the app on a plain click", async () => {
    server.seedCookie();
    renderApp("/");
    const link = await screen.findByRole("link", { name: "Account" });
    expect(link.getAttribute("href")).toBe("/account");
    const pushes = vi.spyOn(window.history, "pushState");
    await userEvent.setup().click(link);
    expect(pushes).toHaveBeenCalledTimes(1);
    expect(calls("POST", "/api/auth/refresh")).toHaveLength(1); // no page load, no second restore
  });

  it("a reload at /account restores the session and shows the Account page", async () => {
    await onAccountPage();
    expect(window.location.pathname).toBe("/account");
  });

  it("signed out at /account, the sign-in form comes first and the Account page after it", async () => {
    renderApp("/account");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Account", level: 1 })).toBeTruthy();
  });
});

describe("the sessions list", () => {
  it("names each device, marks this one, and offers Sign out for the others only", async () => {
    const list = await onAccountPage();
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(3);

    const [here, firefox, iphone] = items as [HTMLElement, HTMLElement, HTMLElement];
    expect(here.textContent).toContain("Chrome on Linux");
    expect(here.textContent).toContain("This device");
    expect(here.textContent).toContain("IP 203.0.113.7");
    expect(here.textContent).toContain("Last used 2 minutes ago");
    expect(here.textContent).toContain("Expires in 30 days");
    expect(within(here).queryByRole("button")).toBeNull();

    const end = within(firefox).getByRole("button", { name: "Sign out Firefox on Windows" });
    expect(describedBy(end)).toContain("IP 198.51.100.23");
    expect(describedBy(end)).toContain("Last used yesterday");
    expect(firefox.textContent).not.toContain("This device");

    expect(iphone.textContent).toContain("Safari on iPhone");
    expect(iphone.textContent).toContain("Last used 10 days ago");
    expect(iphone.textContent).not.toContain("IP");
    within(iphone).getByRole("button", { name: "Sign out Safari on iPhone" });

    // The full time is there for whoever hovers or inspects.
    const time = here.querySelector("time")!;
    expect(time.getAttribute("dateTime")).toBe("2026-05-20T11:58:00Z");
    expect(time.getAttribute("title")).toMatch(/2026/);
  });

  it("ends one session, says so, and keeps the keyboard in the list", async () => {
    const list = await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(list).getByRole("button", { name: "Sign out Firefox on Windows" }));

    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(2));
    expect(calls("DELETE", `/api/auth/sessions/${someSessions()[1]!.id}`)).toHaveLength(1);
    expect(within(list).queryByText("Firefox on Windows")).toBeNull();
    await waitFor(() => expect(status().textContent).toBe("Signed out Firefox on Windows."));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(list).getByRole("button", { name: "Sign out Safari on iPhone" })),
    );
  });

  it("keeps a session it could not end, and says why", async () => {
    const list = await onAccountPage();
    server.handlers.set(`DELETE /api/auth/sessions/${someSessions()[2]!.id}`, () => problem(503, "not_ready"));
    const user = userEvent.setup();
    await user.click(within(list).getByRole("button", { name: "Sign out Safari on iPhone" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/starting up or unavailable/);
    expect(within(list).getAllByRole("listitem")).toHaveLength(3);
    await user.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("signs out everywhere else, keeping this session, and shows the list as it now stands", async () => {
    const list = await onAccountPage();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Sign out everywhere else" }));

    await screen.findByText("You're signed in only here.");
    const post = calls("POST", "/api/auth/signout-all");
    expect(post).toHaveLength(1);
    expect(JSON.parse(post[0]!.body!)).toEqual({ keep_current: true });
    expect(within(list).getAllByRole("listitem")).toHaveLength(1);
    expect(within(list).getByRole("listitem").textContent).toContain("This device");
    expect(calls("GET", "/api/auth/sessions")).toHaveLength(2); // asked again after
    expect(screen.queryByRole("button", { name: "Sign out everywhere else" })).toBeNull();
    await waitFor(() => expect(status().textContent).toBe("Signed out everywhere else."));
    // and this tab is still signed in
    expect(session.current.status).toBe("signed-in");
  });

  it("says when the list cannot be loaded, and tries again on request", async () => {
    server.seedCookie();
    server.handlers.set("GET /api/auth/sessions", () => problem(500, "internal"));
    renderApp("/account");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/Could not load your sessions: the server had a problem/);
    server.handlers.delete("GET /api/auth/sessions");
    await userEvent.setup().click(within(alert).getByRole("button", { name: "Try again" }));
    const list = await screen.findByRole("list", { name: "Sessions" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(3);
  });
});

describe("useSessions", () => {
  function hook() {
    session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
    server.seedCookie();
    const account = new AccountClient(AUTH, session);
    return renderHook(() => useSessions(account));
  }

  it("keeps the list on show while it is asked for again, and drops an answer overtaken by a newer one", async () => {
    const answers: ReturnType<typeof deferred<Response>>[] = [];
    server.handlers.set("GET /api/auth/sessions", () => {
      const answer = deferred<Response>();
      answers.push(answer);
      return answer.promise;
    });
    const { result } = hook();
    expect(result.current.status).toBe("loading");
    await waitFor(() => expect(answers).toHaveLength(1));
    const [here, other] = someSessions() as [SessionInfo, SessionInfo];
    answers[0]!.resolve(Response.json([here, other]));
    await waitFor(() => expect(result.current.status).toBe("ready"));

    act(() => result.current.reload());
    expect(result.current.status).toBe("refreshing");
    expect(result.current.sessions).toHaveLength(2);
    await waitFor(() => expect(answers).toHaveLength(2));
    act(() => result.current.reload());
    await waitFor(() => expect(answers).toHaveLength(3));
    answers[2]!.resolve(Response.json([here]));
    await waitFor(() => expect(result.current.status).toBe("ready"));
    answers[1]!.resolve(Response.json([here, other]));
    await act(() => new Promise((r) => setTimeout(r, 20)));
    expect(result.current.sessions.map((s) => s.id)).toEqual([here.id]);
  });

  it("marks which session is being ended while it is", async () => {
    const gate = deferred<Response>();
    const id = someSessions()[1]!.id;
    server.handlers.set(`DELETE /api/auth/sessions/${id}`, () => gate.promise);
    const { result } = hook();
    await waitFor(() => expect(result.current.status).toBe("ready"));
    let ended!: Promise<boolean>;
    act(() => {
      ended = result.current.end(result.current.sessions[1]!);
    });
    expect(result.current.pending).toBe(id);
    gate.resolve(new Response(null, { status: 204 }));
    await act(async () => expect(await ended).toBe(true));
    expect(result.current.pending).toBeNull();
    expect(result.current.sessions.map((s) => s.id)).not.toContain(id);
  });
});

describe("changing the password", () => {
  const form = () => screen.getByRole("region", { name: "Change password" });

  it("asks for both passwords before sending anything", async () => {
    await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(form()).getByRole("button", { name: "Change password" }));
    const current = within(form()).getByLabelText("Current password");
    expect(current.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(current)).toContain("Enter your current password.");
    expect(describedBy(within(form()).getByLabelText("New password"))).toContain("Choose a new password.");
    expect(document.activeElement).toBe(current);
    expect(calls("POST", "/api/auth/password")).toHaveLength(0);
  });

  it("puts a wrong current password and a weak new one on their fields", async () => {
    await onAccountPage();
    const user = userEvent.setup();
    const current = within(form()).getByLabelText("Current password");
    const next = within(form()).getByLabelText("New password");
    await user.type(current, "not my password");
    await user.type(next, "a brand new passphrase");
    await user.click(within(form()).getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(current.getAttribute("aria-invalid")).toBe("true"));
    expect(describedBy(current)).toContain("That isn't your current password.");
    expect(document.activeElement).toBe(current);
    expect(next.getAttribute("aria-invalid")).toBeNull();

    server.handlers.set("POST /api/auth/password", () =>
      problem(422, "validation_failed", {
        errors: [{ field: "new_password", code: "password_too_common", message: "too common" }],
      }),
    );
    await user.click(within(form()).getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(next.getAttribute("aria-invalid")).toBe("true"));
    expect(describedBy(next)).toContain("too common and easy to guess");
    expect(current.getAttribute("aria-invalid")).toBeNull();
    expect(document.activeElement).toBe(next);
  });

  it("on success clears the form, says so, and shows the other sessions gone", async () => {
    const list = await onAccountPage();
    const user = userEvent.setup();
    await user.type(within(form()).getByLabelText("Current password"), "correct horse battery");
    await user.type(within(form()).getByLabelText("New password"), "a brand new passphrase");
    // The Show toggles are named after their fields.
    await user.click(within(form()).getByRole("button", { name: "Show new password" }));
    expect(within(form()).getByLabelText("New password").getAttribute("type")).toBe("text");
    await user.click(within(form()).getByRole("button", { name: "Change password" }));

    await within(form()).findByText("Password changed. You have been signed out everywhere else.");
    expect(JSON.parse(calls("POST", "/api/auth/password")[0]!.body!)).toEqual({
      current_password: "correct horse battery",
      new_password: "a brand new passphrase",
    });
    expect((within(form()).getByLabelText("Current password") as HTMLInputElement).value).toBe("");
    expect((within(form()).getByLabelText("New password") as HTMLInputElement).value).toBe("");
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    await waitFor(() => expect(status().textContent).toMatch(/Password changed/));
    expect(session.current.status).toBe("signed-in");
  });
});

describe("deleting the account", () => {
  const card = () => screen.getByRole("region", { name: "Delete account" });

  it("needs the password, and asks before deleting; Cancel deletes nothing", async () => {
    await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(card()).getByRole("button", { name: "Delete account…" }));
    const password = within(card()).getByLabelText("Password");
    expect(describedBy(password)).toContain("Enter your password to delete your account.");
    expect(screen.queryByRole("dialog")).toBeNull();

    await user.type(password, "correct horse battery");
    await user.click(within(card()).getByRole("button", { name: "Delete account…" }));
    const dialog = screen.getByRole("dialog", { name: "Delete your account?" });
    expect(dialog.textContent).toContain("alice@example.com");
    expect(dialog.textContent).toContain("all its tasks will be deleted");
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(calls("DELETE", "/api/auth/me")).toHaveLength(0);
  });

  it("puts a wrong password on the field once the dialog closes", async () => {
    await onAccountPage();
    const user = userEvent.setup();
    const password = within(card()).getByLabelText("Password");
    await user.type(password, "not my password");
    await user.click(within(card()).getByRole("button", { name: "Delete account…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Delete account" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(describedBy(password)).toContain("That isn't your current password.");
    await waitFor(() => expect(document.activeElement).toBe(password));
    expect(server.accountDeleted).toBe(false);
    expect(session.current.status).toBe("signed-in");
  });

  it("once confirmed, shows the sign-in form at / with a short confirmation", async () => {
    await onAccountPage();
    const user = userEvent.setup();
    await user.type(within(card()).getByLabelText("Password"), "correct horse battery");
    await user.click(within(card()).getByRole("button", { name: "Delete account…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Delete account" }));

    await screen.findByRole("heading", { name: "Sign in", level: 1 });
    expect(screen.getByRole("status").textContent).toBe("Your account and all its tasks have been deleted.");
    expect(JSON.parse(calls("DELETE", "/api/auth/me")[0]!.body!)).toEqual({ password: "correct horse battery" });
    expect(server.accountDeleted).toBe(true);
    expect(window.location.pathname).toBe("/");
    expect(session.current).toEqual({ status: "signed-out", reason: "deleted" });
  });
});

it("a session ended elsewhere while on the Account page shows the sign-in form, not an error", async () => {
  await onAccountPage();
  server.validAccess.clear();
  server.cookie = null;
  await userEvent.setup().click(screen.getByRole("button", { name: "Sign out everywhere else" }));
  await screen.findByRole("heading", { name: "Sign in", level: 1 });
  expect(screen.getByText("Your session has ended. Please sign in again.")).toBeTruthy();
  expect(screen.queryByRole("alert")).toBeNull();
});
