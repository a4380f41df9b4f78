// @vitest-environment jsdom
/** The Account page's Security activity against the fake auth-service: what each event says, the
 * failures marked, older pages by "Show more", and the loading, empty and error states. */
import { act, cleanup, render, renderHook, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { AccountClient } from "../src/api/account";
import { EmailClient } from "../src/api/email";
import { SessionManager } from "../src/api/session";
import { TasksClient } from "../src/api/tasks";
import { EVENTS_PAGE_SIZE, useSecurityEvents } from "../src/hooks/useSecurityEvents";
import { AUTH, FakeServer, secondFactors, TASKS, manyEvents, problem, someEvents } from "./fakes";

let server: FakeServer;
let session: SessionManager;

/** The Account page, once the session is restored and the page is on show. */
async function renderAccount() {
  server.seedCookie();
  window.history.replaceState(null, "", "/account");
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const tasks = new TasksClient(TASKS, session);
  const account = new AccountClient(AUTH, session);
  const email = new EmailClient(AUTH, session, server.fetch);
  render(<App session={session} tasks={tasks} account={account} email={email} {...secondFactors(session, server)} />);
  await screen.findByRole("heading", { name: "Account", level: 1 });
}

const card = () => screen.getByRole("region", { name: "Security activity" });
const eventList = () => within(card()).findByRole("list", { name: "Security events" });
const eventCalls = () =>
  server.calls.filter((c) => c.method === "GET" && new URL(c.url).pathname === "/api/auth/events");
const status = () => screen.getAllByRole("status").find((el) => el.getAttribute("aria-live") === "polite")!;

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

beforeEach(() => {
  // Only the clock is fake: "5 minutes ago" needs a fixed now, the rest runs on real timers.
  vi.useFakeTimers({ now: new Date("2026-05-20T12:00:00Z"), toFake: ["Date"] });
  server = new FakeServer();
});

afterEach(() => {
  cleanup();
  session?.dispose();
  vi.useRealTimers();
  window.history.replaceState(null, "", "/");
});

describe("the Security activity card", () => {
  it("lists the events newest first: what, when, where from, and the failures marked", async () => {
    await renderAccount();
    within(card()).getByRole("heading", { name: "Security activity", level: 2 });
    const items = within(await eventList()).getAllByRole("listitem");
    expect(items).toHaveLength(4);
    const [failed, changed, signin, signup] = items as [HTMLElement, HTMLElement, HTMLElement, HTMLElement];

    expect(failed.textContent).toContain("Failed sign-in attempt");
    expect(within(failed).getByText("Failed").classList).toContain("badge");
    expect(failed.classList).toContain("flagged");
    expect(failed.textContent).toContain("5 minutes ago");
    expect(failed.textContent).toContain("IP 198.51.100.99");
    expect(failed.textContent).toContain("curl");

    expect(changed.textContent).toContain("Password changed");
    expect(changed.textContent).toContain("3 hours ago");
    expect(changed.textContent).toContain("Chrome on Linux");
    expect(changed.classList).not.toContain("flagged");
    expect(within(changed).queryByText("Failed")).toBeNull();

    expect(signin.textContent).toContain("Signed in");
    expect(signin.textContent).toContain("yesterday");

    // No IP and no user agent: neither is made up.
    expect(signup.textContent).toContain("Account created");
    expect(signup.textContent).toMatch(/on \S.*2026/); // the date in the reader's own format
    expect(signup.textContent).not.toContain("IP");
    expect(signup.textContent).not.toContain("Unknown");

    // The full time for whoever hovers or inspects, and the device's whole User-Agent.
    const time = changed.querySelector("time")!;
    expect(time.getAttribute("dateTime")).toBe("2026-05-20T09:00:00Z");
    expect(time.getAttribute("title")).toMatch(/2026/);
    expect(within(changed).getByText("Chrome on Linux").getAttribute("title")).toMatch(/^Mozilla\/5\.0/);

    // Asked for a page at a time; one page is all there is, so nothing more to show.
    expect(new URL(eventCalls()[0]!.url).searchParams.get("limit")).toBe(String(EVENTS_PAGE_SIZE));
    expect(within(card()).queryByRole("button", { name: "Show more" })).toBeNull();
  });

  it("gives a type it does not know a generic label, and an unreadable time no text", async () => {
    server.events = [
      { ...someEvents()[0]!, id: "a", type: "webauthn_attested", at: "2026-05-20T11:00:00Z" },
      { ...someEvents()[0]!, id: "b", type: "constructor", at: "not a time" },
    ];
    await renderAccount();
    const items = within(await eventList()).getAllByRole("listitem");
    expect(items.map((li) => li.querySelector(".event-label")!.textContent)).toEqual([
      "Other account activity",
      "Other account activity",
    ]);
    expect(items[1]!.querySelector("time")!.textContent).toBe("");
  });

  it("shows older events with Show more until there are none, and moves the keyboard to them", async () => {
    server.events = manyEvents(EVENTS_PAGE_SIZE * 2 + 3);
    await renderAccount();
    const list = await eventList();
    expect(within(list).getAllByRole("listitem")).toHaveLength(EVENTS_PAGE_SIZE);
    const user = userEvent.setup();

    await user.click(within(card()).getByRole("button", { name: "Show more" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(EVENTS_PAGE_SIZE * 2));
    const second = new URL(eventCalls()[1]!.url).searchParams;
    expect(second.get("cursor")).toBe(server.events[EVENTS_PAGE_SIZE - 1]!.id);
    expect(second.get("limit")).toBe(String(EVENTS_PAGE_SIZE));
    await waitFor(() => expect(document.activeElement).toBe(within(list).getAllByRole("listitem")[EVENTS_PAGE_SIZE]));
    await waitFor(() => expect(status().textContent).toBe(`${EVENTS_PAGE_SIZE} older events shown.`));

    await user.click(within(card()).getByRole("button", { name: "Show more" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(EVENTS_PAGE_SIZE * 2 + 3));
    expect(within(list).getAllByRole("listitem").map((li) => li.querySelector("time")!.getAttribute("dateTime"))).toEqual(
      server.events.map((e) => e.at),
    );
    expect(within(card()).queryByRole("button", { name: "Show more" })).toBeNull();
    await waitFor(() =>
      expect(document.activeElement).toBe(within(list).getAllByRole("listitem")[EVENTS_PAGE_SIZE * 2]),
    );
    await waitFor(() => expect(status().textContent).toBe("3 older events shown."));
  });

  it("says why Show more failed, keeps what it has, and tries again on request", async () => {
    server.events = manyEvents(EVENTS_PAGE_SIZE + 1);
    await renderAccount();
    const list = await eventList();
    server.handlers.set("GET /api/auth/events", (call) =>
      new URL(call.url).searchParams.has("cursor") ? problem(500, "internal") : undefined,
    );
    const user = userEvent.setup();
    await user.click(within(card()).getByRole("button", { name: "Show more" }));
    const alert = await within(card()).findByRole("alert");
    expect(alert.textContent).toMatch(/Could not load older activity: the server had a problem/);
    expect(within(list).getAllByRole("listitem")).toHaveLength(EVENTS_PAGE_SIZE);

    server.handlers.delete("GET /api/auth/events");
    await user.click(within(card()).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(EVENTS_PAGE_SIZE + 1));
    expect(within(card()).queryByRole("alert")).toBeNull();
  });

  it("says it is loading, then what it found", async () => {
    const answer = deferred<Response>();
    server.handlers.set("GET /api/auth/events", () => answer.promise);
    await renderAccount();
    await within(card()).findByText("Loading security activity…");
    expect(within(card()).getByRole("status").textContent).toContain("Loading security activity");
    answer.resolve(Response.json({ items: [], next_cursor: null }));
    await within(card()).findByText("No security activity yet.");
    expect(within(card()).queryByRole("list")).toBeNull();
  });

  it("says when the list cannot be loaded, and tries again on request", async () => {
    server.handlers.set("GET /api/auth/events", () => problem(503, "not_ready"));
    await renderAccount();
    const alert = await within(card()).findByRole("alert");
    expect(alert.textContent).toMatch(/starting up or unavailable/);
    server.handlers.delete("GET /api/auth/events");
    await userEvent.setup().click(within(alert).getByRole("button", { name: "Try again" }));
    expect(within(await eventList()).getAllByRole("listitem")).toHaveLength(4);
  });

  it("shows the password change made on the page", async () => {
    await renderAccount();
    const list = await eventList();
    const form = screen.getByRole("region", { name: "Change password" });
    const user = userEvent.setup();
    await user.type(within(form).getByLabelText("Current password"), server.password);
    await user.type(within(form).getByLabelText("New password"), "a brand new passphrase");
    await user.click(within(form).getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(5));
    expect(within(list).getAllByRole("listitem")[0]!.textContent).toMatch(/^Password changedjust now/);
  });

  it("asks again after a session is ended on the page", async () => {
    await renderAccount();
    await eventList();
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign out everywhere else" }));
    await waitFor(() => expect(eventCalls()).toHaveLength(2));
  });
});

describe("useSecurityEvents", () => {
  it("drops an older page that comes back after the list was asked for again", async () => {
    server.events = manyEvents(EVENTS_PAGE_SIZE + 5);
    const older = deferred<Response>();
    server.handlers.set("GET /api/auth/events", (call) =>
      new URL(call.url).searchParams.has("cursor") ? older.promise : undefined,
    );
    session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
    server.seedCookie();
    const account = new AccountClient(AUTH, session);
    const { result } = renderHook(() => useSecurityEvents(account));
    await waitFor(() => expect(result.current.status).toBe("ready"));
    expect(result.current.hasMore).toBe(true);

    let added!: Promise<number>;
    act(() => {
      added = result.current.loadMore();
    });
    expect(result.current.busy).toBe(true);
    act(() => result.current.reload());
    await waitFor(() => expect(result.current.status).toBe("ready"));
    older.resolve(Response.json({ items: server.events.slice(EVENTS_PAGE_SIZE), next_cursor: null }));
    await act(async () => expect(await added).toBe(0));
    expect(result.current.events).toHaveLength(EVENTS_PAGE_SIZE);
    expect(result.current.hasMore).toBe(true);
  });
});
