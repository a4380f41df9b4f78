// @vitest-environment jsdom
/** "Forgot password?", the pages the mails link to (/reset-password, /verify-email) and the banner
 * for an address not yet confirmed, against the fake services, as a person (and assistive
 * technology) meets them. */
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App } from "../src/App";
import { AccountClient } from "../src/api/account";
import { EmailClient } from "../src/api/email";
import { SessionManager } from "../src/api/session";
import { TasksClient } from "../src/api/tasks";
import { AUTH, FakeServer, secondFactors, TASKS, problem } from "./fakes";

let server: FakeServer;
let session: SessionManager;

function renderApp(path = "/", { strict = false } = {}) {
  window.history.replaceState(null, "", path);
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const tasks = new TasksClient(TASKS, session);
  const account = new AccountClient(AUTH, session);
  const email = new EmailClient(AUTH, session, server.fetch);
  const app = <App session={session} tasks={tasks} account={account} email={email} {...secondFactors(session, server)} />;
  return render(strict ? <StrictMode>{app}</StrictMode> : app);
}

const calls = (method: string, path: string) =>
  server.calls.filter((c) => c.method === method && new URL(c.url).pathname === path);
const bodyOf = (method: string, path: string) => JSON.parse(calls(method, path).at(-1)!.body!) as unknown;
const describedBy = (el: HTMLElement) =>
  (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");

/** The h1 of the page on show, once it says `name`, holding the keyboard focus. */
async function focusedHeading(name: string | RegExp) {
  const heading = await screen.findByRole("heading", { name, level: 1 });
  await waitFor(() => expect(document.activeElement).toBe(heading));
  return heading;
}

const unverified = () => {
  server.user = { ...server.user, email_verified: false };
};

beforeEach(() => {
  server = new FakeServer();
});

afterEach(() => {
  cleanup();
  session?.dispose();
  window.history.replaceState(null, "", "/");
});

describe("Forgot password?", () => {
  it("goes from the sign-in form with the email typed there, and says the same whatever the answer", async () => {
    const user = userEvent.setup();
    renderApp("/");
    await user.type(await screen.findByLabelText("Email"), " alice@example.com ");
    await user.click(screen.getByRole("link", { name: "Forgot password?" }));

    await screen.findByRole("heading", { name: "Forgot your password?", level: 1 });
    expect(window.location.pathname).toBe("/forgot-password");
    await waitFor(() => expect(document.title).toBe("Forgot your password · Tasks"));
    const field = screen.getByLabelText("Email") as HTMLInputElement;
    expect(field.value).toBe("alice@example.com");
    await user.click(screen.getByRole("button", { name: "Send reset link" }));

    await focusedHeading("Check your email");
    expect(bodyOf("POST", "/api/auth/password/reset/request")).toEqual({ email: "alice@example.com" });
    expect(screen.getByRole("status").textContent).toBe(
      "If an account exists for alice@example.com, a link to choose a new password is on its way.",
    );

    // Another link on request; "Back to sign in" is the sign-in form again.
    await user.click(screen.getByRole("button", { name: "Send another link" }));
    await waitFor(() => expect(calls("POST", "/api/auth/password/reset/request")).toHaveLength(2));
    await user.click(screen.getByRole("link", { name: "Back to sign in" }));
    await screen.findByRole("heading", { name: "Sign in", level: 1 });
    expect(window.location.pathname).toBe("/");
  });

  it("keeps what was typed across a reload (the address travels in history.state)", async () => {
    window.history.replaceState(null, "", "/");
    window.history.pushState({ email: "kept@example.com" }, "", "/forgot-password");
    session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
    render(
      <App
        session={session}
        tasks={new TasksClient(TASKS, session)}
        account={new AccountClient(AUTH, session)}
        email={new EmailClient(AUTH, session, server.fetch)}
        {...secondFactors(session, server)}
      />,
    );
    const field = (await screen.findByLabelText("Email")) as HTMLInputElement;
    expect(field.value).toBe("kept@example.com");
  });

  it("stops an empty or impossible address on the field, and asks nothing", async () => {
    const user = userEvent.setup();
    renderApp("/forgot-password");
    const button = await screen.findByRole("button", { name: "Send reset link" });
    await user.click(button);
    const field = screen.getByLabelText("Email");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(field)).toContain("Enter your email address.");
    expect(document.activeElement).toBe(field);

    await user.type(field, "alice");
    await user.click(button);
    expect(describedBy(field)).toContain("Enter a valid email address");
    expect(calls("POST", "/api/auth/password/reset/request")).toHaveLength(0);
  });

  it("puts the service's wait in words, and offers Try again when the network failed", async () => {
    const user = userEvent.setup();
    server.handlers.set("POST /api/auth/password/reset/request", () =>
      problem(429, "rate_limited", {}, { "Retry-After": "90" }),
    );
    renderApp("/forgot-password");
    await user.type(await screen.findByLabelText("Email"), "alice@example.com");
    await user.click(screen.getByRole("button", { name: "Send reset link" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Too many attempts. Try again in 2 minutes.");

    server.handlers.delete("POST /api/auth/password/reset/request");
    server.offline = true;
    await user.click(screen.getByRole("button", { name: "Send reset link" }));
    const alert = await screen.findByRole("alert");
    await waitFor(() => expect(alert.textContent).toMatch(/Can't reach the server/));
    server.offline = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    await focusedHeading("Check your email");
  });
});

describe("/reset-password", () => {
  async function fill(password: string, confirm = password) {
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("New password"), password);
    await user.type(screen.getByLabelText("Confirm new password"), confirm);
    await user.click(screen.getByRole("button", { name: "Change password" }));
    return user;
  }

  it("sets the new password with the link's token, then offers to sign in", async () => {
    server.resetTokens.add("reset-1");
    renderApp("/reset-password?token=reset-1");
    await screen.findByRole("heading", { name: "Choose a new password", level: 1 });
    await waitFor(() => expect(document.title).toBe("Choose a new password · Tasks"));
    const pw = screen.getByLabelText("New password");
    expect(document.activeElement).toBe(pw);
    expect(pw.getAttribute("autocomplete")).toBe("new-password");
    expect(describedBy(pw)).toContain("At least 8 characters. Avoid common passwords.");
    const user = await fill("a new long passphrase");

    await focusedHeading("Password changed");
    expect(bodyOf("POST", "/api/auth/password/reset")).toEqual({
      token: "reset-1",
      new_password: "a new long passphrase",
    });
    expect(screen.getByRole("status").textContent).toMatch(/every session of your account has ended/);
    await user.click(screen.getByRole("link", { name: "Sign in" }));
    await screen.findByRole("heading", { name: "Sign in", level: 1 });
    expect(window.location.pathname + window.location.search).toBe("/");
  });

  it("signs this browser out when the reset ended its session", async () => {
    server.seedCookie();
    server.resetTokens.add("reset-1");
    renderApp("/reset-password?token=reset-1");
    await fill("a new long passphrase");
    await focusedHeading("Password changed");
    expect(session.current.status).toBe("signed-out");
    expect(screen.getByRole("link", { name: "Sign in" })).toBeTruthy();
  });

  it("checks that the two passwords are the same before sending", async () => {
    renderApp("/reset-password?token=reset-1");
    await fill("a new long passphrase", "a new long passfrase");
    const confirm = screen.getByLabelText("Confirm new password");
    await waitFor(() => expect(confirm.getAttribute("aria-invalid")).toBe("true"));
    expect(describedBy(confirm)).toContain("The two passwords are not the same.");
    expect(document.activeElement).toBe(confirm);
    expect(calls("POST", "/api/auth/password/reset")).toHaveLength(0);
  });

  it("puts a password the service refuses on the field, in the sign-up's words", async () => {
    server.resetTokens.add("reset-1");
    renderApp("/reset-password?token=reset-1");
    await fill("password");
    const pw = screen.getByLabelText("New password");
    await waitFor(() => expect(pw.getAttribute("aria-invalid")).toBe("true"));
    expect(describedBy(pw)).toContain("This password is too common");
    expect(document.activeElement).toBe(pw);
    // the link is still good
    expect(server.resetTokens.has("reset-1")).toBe(true);
  });

  it("explains a used or expired link and leads to a new one", async () => {
    renderApp("/reset-password?token=spent");
    const user = await fill("a new long passphrase");
    await focusedHeading("This link can no longer be used");
    expect(screen.getByRole("alert").textContent).toBe("This password reset link has expired or was already used.");
    expect(screen.getByText(/works once, for 30 minutes/)).toBeTruthy();
    await user.click(screen.getByRole("link", { name: "Ask for a new link" }));
    await screen.findByRole("heading", { name: "Forgot your password?", level: 1 });
    expect(window.location.pathname).toBe("/forgot-password");
  });

  it("says so when the address has no token at all", async () => {
    renderApp("/reset-password");
    await screen.findByRole("heading", { name: "This link is incomplete", level: 1 });
    expect(screen.getByRole("link", { name: "Ask for a new link" }).getAttribute("href")).toBe("/forgot-password");
    expect(screen.queryByLabelText("New password")).toBeNull();
  });

  it("offers Try again when the network failed, and keeps what was typed", async () => {
    server.resetTokens.add("reset-1");
    server.offline = true;
    renderApp("/reset-password?token=reset-1");
    // The restore fails offline too: come back online for it, then lose the network again.
    const retryBoot = await screen.findByRole("button", { name: "Try again" });
    server.offline = false;
    const user = userEvent.setup();
    await user.click(retryBoot);
    await screen.findByLabelText("New password");
    server.offline = true;
    await fill("a new long passphrase");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/Can't reach the server/);
    expect((screen.getByLabelText("New password") as HTMLInputElement).value).toBe("a new long passphrase");
    server.offline = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    await focusedHeading("Password changed");
  });
});

describe("/verify-email", () => {
  it("uses the token once on load, even under StrictMode, and the banner goes", async () => {
    unverified();
    server.seedCookie();
    server.verifyTokens.add("verify-1");
    renderApp("/verify-email?token=verify-1", { strict: true });

    await focusedHeading("Email address confirmed");
    expect(calls("POST", "/api/auth/email/verify")).toHaveLength(1);
    expect(bodyOf("POST", "/api/auth/email/verify")).toEqual({ token: "verify-1" });
    expect(session.current).toMatchObject({ user: { email_verified: true } });
    await waitFor(() => expect(document.title).toBe("Confirm your email address · Tasks"));

    await userEvent.setup().click(screen.getByRole("link", { name: "Go to your tasks" }));
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(screen.queryByRole("region", { name: "Confirm your email address" })).toBeNull();
    // still one use of the token
    expect(calls("POST", "/api/auth/email/verify")).toHaveLength(1);
  });

  it("says it is working on it while the answer is on its way", async () => {
    server.verifyTokens.add("verify-1");
    let answer!: () => void;
    const held = new Promise<void>((r) => (answer = r));
    server.handlers.set("POST /api/auth/email/verify", () => held.then(() => new Response(null, { status: 204 })));
    renderApp("/verify-email?token=verify-1");
    await screen.findByRole("heading", { name: "Confirming your email address…", level: 1 });
    expect(screen.getByRole("status").textContent).toBe("Confirming…");
    expect(screen.getByRole("region").getAttribute("aria-busy")).toBe("true");
    answer();
    await focusedHeading("Email address confirmed");
    expect(screen.getByRole("link", { name: "Sign in" }).getAttribute("href")).toBe("/");
  });

  it("explains a used or expired link; signed out, the way to a new one is signing in", async () => {
    renderApp("/verify-email?token=spent");
    await focusedHeading("This link can no longer be used");
    expect(screen.getByRole("alert").textContent).toBe("This confirmation link has expired or was already used.");
    expect(screen.getByText(/works once, for 24 hours/)).toBeTruthy();
    expect(screen.getByText(/To get a new link, sign in/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Sign in" })).toBeTruthy();
  });

  it("signed in, sends a new link from the page, and puts a 429's wait in words", async () => {
    unverified();
    server.seedCookie();
    renderApp("/verify-email?token=spent");
    await focusedHeading("This link can no longer be used");
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Send a new link" }));
    const status = screen.getByRole("status");
    await waitFor(() =>
      expect(status.textContent).toBe("A new link is on its way to alice@example.com. It works for 24 hours."),
    );
    expect(server.verificationMails).toBe(1);
    await user.click(screen.getByRole("button", { name: "Send a new link" }));
    await waitFor(() =>
      expect(status.textContent).toMatch(
        /^A link was sent a moment ago\. You can ask for another in (1 minute|\d+ seconds)\.$/,
      ),
    );
    expect(server.verificationMails).toBe(1);
  });

  it("tells someone whose address is already confirmed that nothing more is needed", async () => {
    server.seedCookie();
    renderApp("/verify-email?token=spent");
    await focusedHeading("Email address already confirmed");
    expect(screen.getByRole("link", { name: "Go to your tasks" })).toBeTruthy();
  });

  it("offers Try again when the service could not be reached, and then asks again", async () => {
    server.verifyTokens.add("verify-1");
    let fail = true;
    server.handlers.set("POST /api/auth/email/verify", () => {
      if (fail) throw new TypeError("Failed to fetch");
      return undefined;
    });
    renderApp("/verify-email?token=verify-1");
    await focusedHeading("Your email address is not confirmed yet");
    expect(screen.getByRole("alert").textContent).toMatch(/Can't reach the server/);
    fail = false;
    await userEvent.setup().click(screen.getByRole("button", { name: "Try again" }));
    await focusedHeading("Email address confirmed");
    expect(calls("POST", "/api/auth/email/verify")).toHaveLength(2);
  });

  it("says so when the address has no token at all, and asks nothing", async () => {
    renderApp("/verify-email");
    await screen.findByRole("heading", { name: "This link is incomplete", level: 1 });
    expect(calls("POST", "/api/auth/email/verify")).toHaveLength(0);
  });
});

describe("the banner for an address not yet confirmed", () => {
  const banner = () => screen.findByRole("region", { name: "Confirm your email address" });

  it("says where the link went, on every signed-in page; Resend sends one, a second says how long to wait", async () => {
    unverified();
    server.seedCookie();
    renderApp("/");
    const region = await banner();
    expect(region.textContent).toContain("we sent a link to alice@example.com");
    const user = userEvent.setup();
    const resend = within(region).getByRole("button", { name: /^Resend/ });
    await user.click(resend);
    const status = within(region).getByRole("status");
    await waitFor(() =>
      expect(status.textContent).toBe("A new link is on its way to alice@example.com. It works for 24 hours."),
    );
    expect(calls("POST", "/api/auth/email/verify/request")).toHaveLength(1);

    await user.click(resend);
    await waitFor(() => expect(status.textContent).toMatch(/You can ask for another in (1 minute|\d+ seconds)\.$/));
    expect(server.verificationMails).toBe(1);

    await user.click(screen.getByRole("link", { name: "Account" }));
    await screen.findByRole("heading", { name: "Account", level: 1 });
    expect(await banner()).toBeTruthy();
  });

  it("goes when Resend finds the address confirmed meanwhile (in another browser)", async () => {
    unverified();
    server.seedCookie();
    renderApp("/");
    const region = await banner();
    server.user = { ...server.user, email_verified: true };
    await userEvent.setup().click(within(region).getByRole("button", { name: /^Resend/ }));
    await waitFor(() => expect(screen.queryByRole("region", { name: "Confirm your email address" })).toBeNull());
    expect(server.verificationMails).toBe(0);
  });

  it("says why Resend failed as an alert", async () => {
    unverified();
    server.seedCookie();
    renderApp("/");
    const region = await banner();
    server.handlers.set("POST /api/auth/email/verify/request", () => problem(503, "not_ready"));
    await userEvent.setup().click(within(region).getByRole("button", { name: /^Resend/ }));
    expect((await within(region).findByRole("alert")).textContent).toMatch(/starting up or unavailable/);
  });

  it("is not there for a confirmed address, nor when the service says nothing about it", async () => {
    server.seedCookie();
    renderApp("/");
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(screen.queryByRole("region", { name: "Confirm your email address" })).toBeNull();

    cleanup();
    session.dispose();
    server = new FakeServer();
    const { email_verified: _, ...older } = server.user;
    void _;
    server.user = older;
    server.seedCookie();
    renderApp("/");
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(screen.queryByRole("region", { name: "Confirm your email address" })).toBeNull();
  });
});
