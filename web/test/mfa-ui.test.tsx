// @vitest-environment jsdom
/** The second factors as a person (and assistive technology) meets them, against the fake
 * services: the code step at sign-in, "Sign in with a passkey", and on the Account page the
 * authenticator app's set-up (QR code, key, first code, recovery codes, turning it off) and the
 * passkeys (list, add, remove). */
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { AccountClient } from "../src/api/account";
import { EmailClient } from "../src/api/email";
import { SessionManager } from "../src/api/session";
import { TasksClient } from "../src/api/tasks";
import {
  AUTH,
  FakeServer,
  FakeWebAuthn,
  RECOVERY_CODES,
  TASKS,
  TOTP_CODE,
  TOTP_SECRET,
  alice,
  problem,
  secondFactors,
  somePasskeys,
} from "./fakes";

let server: FakeServer;
let session: SessionManager;
let webauthn: FakeWebAuthn;

function renderApp(path = "/") {
  window.history.replaceState(null, "", path);
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const tasks = new TasksClient(TASKS, session);
  const account = new AccountClient(AUTH, session);
  const email = new EmailClient(AUTH, session, server.fetch);
  return render(
    <App session={session} tasks={tasks} account={account} email={email} {...secondFactors(session, server, webauthn)} />,
  );
}

const calls = (method: string, path: string) =>
  server.calls.filter((c) => c.method === method && new URL(c.url).pathname === path);
/** The page's polite status region (the Account page's announcements). */
const pageStatus = () => screen.getAllByRole("status").find((el) => el.getAttribute("aria-live") === "polite")!;
const describedBy = (el: HTMLElement) =>
  (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-05-20T12:00:00Z"), toFake: ["Date"] });
  server = new FakeServer();
  webauthn = new FakeWebAuthn();
});

afterEach(() => {
  cleanup();
  session?.dispose();
  vi.useRealTimers();
  window.history.replaceState(null, "", "/");
});

// ---- sign-in -----------------------------------------------------------------------------------

async function toCodeStep() {
  server.totp = "on";
  server.recoveryCodes = [...RECOVERY_CODES];
  renderApp("/");
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText("Email"), alice.email);
  await user.type(screen.getByLabelText("Password"), server.password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
  await screen.findByRole("heading", { name: "Two-step verification", level: 1 });
  return user;
}

describe("the code step at sign-in", () => {
  it("asks for the app's code in one field, focused, that a phone can fill in", async () => {
    await toCodeStep();
    const field = screen.getByLabelText("Authentication code") as HTMLInputElement;
    expect(document.activeElement).toBe(field);
    expect(field.getAttribute("autocomplete")).toBe("one-time-code");
    expect(field.getAttribute("inputmode")).toBe("numeric");
    expect(screen.getByRole("button", { name: "Lost your phone? Use a recovery code" })).toBeTruthy();
    expect(session.current.status).toBe("signed-out");
    expect(screen.queryByLabelText("Password")).toBeNull();
  });

  it("a wrong code is said on the field, which keeps the focus; the right one signs in", async () => {
    const user = await toCodeStep();
    const field = screen.getByLabelText("Authentication code") as HTMLInputElement;
    await user.type(field, "000000");
    await user.click(screen.getByRole("button", { name: "Verify" }));

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("That code didn't work. Enter the code your app shows now.");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(field)).toContain("That code didn't work");
    expect(document.activeElement).toBe(field);

    await user.clear(field);
    await user.type(field, "123 456");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    const sent = calls("POST", "/api/auth/signin/mfa").map((c) => JSON.parse(c.body!));
    expect(sent).toEqual([
      { mfa_token: sent[0].mfa_token, code: "000000" },
      { mfa_token: sent[0].mfa_token, code: TOTP_CODE },
    ]);
    expect(calls("POST", "/api/auth/signin")).toHaveLength(1);
  });

  it("stops an empty or short code here", async () => {
    const user = await toCodeStep();
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Enter the 6-digit code from your app.");
    await user.type(screen.getByLabelText("Authentication code"), "12345");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The code has 6 digits.");
    expect(calls("POST", "/api/auth/signin/mfa")).toHaveLength(0);
  });

  it("takes a recovery code in the same field, in letters, once", async () => {
    const user = await toCodeStep();
    await user.click(screen.getByRole("button", { name: "Lost your phone? Use a recovery code" }));
    const field = screen.getByLabelText("Recovery code") as HTMLInputElement;
    await waitFor(() => expect(document.activeElement).toBe(field));
    expect(field.getAttribute("inputmode")).toBe("text");
    expect(screen.getByText(/enter one of the recovery codes you saved/i)).toBeTruthy();
    await user.type(field, RECOVERY_CODES[0]!.toUpperCase());
    await user.click(screen.getByRole("button", { name: "Verify" }));
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(JSON.parse(calls("POST", "/api/auth/signin/mfa")[0]!.body!).code).toBe(RECOVERY_CODES[0]!.toUpperCase());
    expect(server.recoveryCodes).toHaveLength(9);
  });

  it("a spent recovery code is refused in the recovery code's words", async () => {
    const user = await toCodeStep();
    server.recoveryCodes = [];
    await user.click(screen.getByRole("button", { name: "Lost your phone? Use a recovery code" }));
    await user.type(screen.getByLabelText("Recovery code"), RECOVERY_CODES[0]!);
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/That recovery code didn't work/);
  });

  it("when the token ran out, goes back to the password with the reason, the email kept", async () => {
    const user = await toCodeStep();
    server.mfaTokens.clear();
    await user.type(screen.getByLabelText("Authentication code"), TOTP_CODE);
    await user.click(screen.getByRole("button", { name: "Verify" }));

    await screen.findByRole("heading", { name: "Sign in", level: 1 });
    expect(screen.getByRole("alert").textContent).toBe("The time to enter a code ran out. Sign in again.");
    expect((screen.getByLabelText("Email") as HTMLInputElement).value).toBe(alice.email);
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText("Password")));
    // A fresh start works.
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByRole("heading", { name: "Two-step verification", level: 1 });
  });

  it("a 429 says how long to wait, and the step stays", async () => {
    const user = await toCodeStep();
    server.handlers.set("POST /api/auth/signin/mfa", () => problem(429, "rate_limited", {}, { "Retry-After": "90" }));
    await user.type(screen.getByLabelText("Authentication code"), TOTP_CODE);
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Too many attempts. Try again in 2 minutes.");
    expect(screen.getByRole("heading", { name: "Two-step verification", level: 1 })).toBeTruthy();
  });

  it("Back to sign in returns to the password form", async () => {
    const user = await toCodeStep();
    await user.click(screen.getByRole("button", { name: "Back to sign in" }));
    await screen.findByRole("heading", { name: "Sign in", level: 1 });
    expect((screen.getByLabelText("Password") as HTMLInputElement).value).toBe("");
  });
});

describe("Sign in with a passkey", () => {
  it("signs in with the passkey alone", async () => {
    renderApp("/");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign in with a passkey" }));
    await screen.findByRole("heading", { name: "Your tasks", level: 1 });
    expect(webauthn.requested).toHaveLength(1);
    expect(calls("POST", "/api/auth/signin")).toHaveLength(0);
  });

  it("a closed prompt is a quiet word, not an error", async () => {
    webauthn.failWith = "NotAllowedError";
    renderApp("/");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign in with a passkey" }));
    const status = await screen.findByRole("status");
    expect(status.textContent).toBe("Passkey sign-in was cancelled. Try again, or sign in with your password.");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByRole("button", { name: "Sign in with a passkey" })).toHaveProperty("disabled", false);
  });

  it("a passkey the service refuses says to use the password, and nothing refreshes", async () => {
    webauthn.credentialId = "cred-removed";
    renderApp("/");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign in with a passkey" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/That passkey wasn't accepted/);
    expect(session.current.status).toBe("signed-out");
    expect(calls("POST", "/api/auth/refresh")).toHaveLength(1); // the restore on load, no more
  });

  it("without WebAuthn the button is disabled and says why", async () => {
    webauthn.supported = false;
    renderApp("/");
    const button = await screen.findByRole("button", { name: "Sign in with a passkey" });
    expect(button).toHaveProperty("disabled", true);
    expect(describedBy(button)).toBe("This browser can't use passkeys. Sign in with your password.");
  });

  it("is not offered on the sign-up form", async () => {
    renderApp("/");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Create an account" }));
    expect(screen.queryByRole("button", { name: "Sign in with a passkey" })).toBeNull();
  });
});

// ---- the Account page: the authenticator app -----------------------------------------------------

async function onAccountPage() {
  server.seedCookie();
  renderApp("/account");
  await screen.findByRole("heading", { name: "Account", level: 1 });
  return screen.findByRole("region", { name: "Two-step verification" });
}

describe("setting up the authenticator app", () => {
  beforeEach(() => {
    URL.createObjectURL = vi.fn(() => "blob:recovery-codes");
    URL.revokeObjectURL = vi.fn();
  });

  it("QR code, key, first code, recovery codes once, then on", async () => {
    const card = await onAccountPage();
    const user = userEvent.setup();
    expect(within(card).getByText(/Add a second step when you sign in/)).toBeTruthy();
    await user.click(within(card).getByRole("button", { name: "Set up authenticator app" }));

    // Step 1: scan or type; the focus is on the step's heading.
    const scan = await within(card).findByRole("heading", { name: "Scan this QR code with your authenticator app" });
    expect(document.activeElement).toBe(scan);
    const qr = (await within(card).findByRole("img", {
      name: "QR code for adding your Tasks account to an authenticator app",
    })) as HTMLImageElement;
    expect(qr.src).toMatch(/^data:image\/svg\+xml;charset=utf-8,/);
    expect(decodeURIComponent(qr.src)).toContain("<svg");
    expect(within(card).getByText("JBSW Y3DP EHPK 3PXP")).toBeTruthy();
    await user.click(within(card).getByRole("button", { name: "Copy key" }));
    expect(await navigator.clipboard.readText()).toBe(TOTP_SECRET);
    await waitFor(() => expect(pageStatus().textContent).toBe("Key copied."));

    // Step 2: a wrong code on its field, then the right one.
    const field = within(card).getByLabelText("Code from the app") as HTMLInputElement;
    expect(field.getAttribute("autocomplete")).toBe("one-time-code");
    expect(field.getAttribute("inputmode")).toBe("numeric");
    await user.type(field, "654321");
    await user.click(within(card).getByRole("button", { name: "Turn on" }));
    expect((await within(card).findByRole("alert")).textContent).toBe(
      "That code didn't work. Check the app and enter the code it shows now.",
    );
    expect(document.activeElement).toBe(field);
    expect(session.current.status).toBe("signed-in");
    await user.clear(field);
    await user.type(field, TOTP_CODE);
    await user.click(within(card).getByRole("button", { name: "Turn on" }));

    // Step 3: the recovery codes, shown once.
    const save = await within(card).findByRole("heading", { name: "Save your recovery codes" });
    expect(document.activeElement).toBe(save);
    const list = within(card).getByRole("list", { name: "Recovery codes" });
    expect(within(list).getAllByRole("listitem").map((li) => li.textContent)).toEqual(RECOVERY_CODES);
    await waitFor(() => expect(session.current).toMatchObject({ user: { totp_enabled: true } }));

    await user.click(within(card).getByRole("button", { name: "Copy codes" }));
    expect(await navigator.clipboard.readText()).toBe(RECOVERY_CODES.join("\n"));

    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    await user.click(within(card).getByRole("button", { name: "Download (.txt)" }));
    const blob = vi.mocked(URL.createObjectURL).mock.calls[0]![0] as Blob;
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(blob);
    });
    for (const code of RECOVERY_CODES) expect(text).toContain(`\n${code}\n`);
    expect(text).toContain(alice.email);
    const link = click.mock.contexts[0] as HTMLAnchorElement;
    expect(link.download).toBe("tasks-recovery-codes.txt");
    expect(link.href).toBe("blob:recovery-codes");
    await waitFor(() => expect(pageStatus().textContent).toBe("Recovery codes downloaded."));

    // "I saved them" before leaving.
    await user.click(within(card).getByRole("button", { name: "Done" }));
    const check = within(card).getByRole("checkbox", { name: "I have saved my recovery codes" });
    expect((await within(card).findByRole("alert")).textContent).toMatch(/Tick the box/);
    expect(document.activeElement).toBe(check);
    await user.click(check);
    await user.click(within(card).getByRole("button", { name: "Done" }));

    await within(card).findByText("On");
    expect(within(card).queryByRole("list", { name: "Recovery codes" })).toBeNull();
    expect(within(card).getByRole("button", { name: "Turn off…" })).toBeTruthy();
    await waitFor(() =>
      expect(document.activeElement).toBe(within(card).getByRole("heading", { name: "Two-step verification" })),
    );
    expect(calls("POST", "/api/auth/mfa/totp/confirm").map((c) => JSON.parse(c.body!))).toEqual([
      { code: "654321" },
      { code: TOTP_CODE },
    ]);
    // The security activity is asked for again.
    expect(calls("GET", "/api/auth/events").length).toBeGreaterThanOrEqual(2);
  });

  it("Cancel leaves it off and gives the focus back to the card", async () => {
    const card = await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(card).getByRole("button", { name: "Set up authenticator app" }));
    await within(card).findByRole("heading", { name: "Scan this QR code with your authenticator app" });
    await user.click(within(card).getByRole("button", { name: "Cancel" }));
    expect(within(card).getByRole("button", { name: "Set up authenticator app" })).toBeTruthy();
    await waitFor(() =>
      expect(document.activeElement).toBe(within(card).getByRole("heading", { name: "Two-step verification" })),
    );
  });

  it("a set-up replaced elsewhere (409 totp_not_pending) says to start again", async () => {
    const card = await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(card).getByRole("button", { name: "Set up authenticator app" }));
    await user.type(await within(card).findByLabelText("Code from the app"), TOTP_CODE);
    server.totp = "off";
    await user.click(within(card).getByRole("button", { name: "Turn on" }));
    expect((await within(card).findByRole("alert")).textContent).toBe("That set-up was replaced or ran out. Start again.");
    expect(within(card).getByRole("button", { name: "Set up authenticator app" })).toBeTruthy();
  });

  it("already on elsewhere (409 totp_already_enabled) shows it on", async () => {
    const card = await onAccountPage();
    server.totp = "on";
    server.user = { ...server.user, totp_enabled: true };
    await userEvent.setup().click(within(card).getByRole("button", { name: "Set up authenticator app" }));
    await within(card).findByRole("button", { name: "Turn off…" });
    await waitFor(() => expect(pageStatus().textContent).toBe("Your authenticator app is already set up."));
  });

  it("is not offered by an auth-service that says nothing about it", async () => {
    const { totp_enabled, ...older } = alice;
    void totp_enabled;
    server.user = older;
    server.seedCookie();
    renderApp("/account");
    await screen.findByRole("heading", { name: "Account", level: 1 });
    await screen.findByRole("region", { name: "Passkeys" });
    expect(screen.queryByRole("region", { name: "Two-step verification" })).toBeNull();
  });
});

describe("turning the authenticator app off", () => {
  beforeEach(() => {
    server.totp = "on";
    server.user = { ...server.user, totp_enabled: true };
  });

  it("asks for the password; a wrong one is said on its field; then off, and the other sessions ended", async () => {
    const card = await onAccountPage();
    await screen.findByRole("list", { name: "Sessions" });
    const user = userEvent.setup();
    await user.click(within(card).getByRole("button", { name: "Turn off…" }));
    const heading = await within(card).findByRole("heading", { name: "Turn off two-step verification?" });
    expect(document.activeElement).toBe(heading);
    expect(within(card).getByText(/You will be signed out everywhere else/)).toBeTruthy();

    const password = within(card).getByLabelText("Your password");
    await user.type(password, "not my password");
    await user.click(within(card).getByRole("button", { name: "Turn off" }));
    expect((await within(card).findByRole("alert")).textContent).toBe("That isn't your current password.");
    expect(document.activeElement).toBe(password);

    await user.clear(password);
    await user.type(password, server.password);
    await user.click(within(card).getByRole("button", { name: "Turn off" }));
    await within(card).findByRole("button", { name: "Set up authenticator app" });
    expect(server.totp).toBe("off");
    await waitFor(() =>
      expect(pageStatus().textContent).toBe("Two-step verification is off. You have been signed out everywhere else."),
    );
    const sessions = screen.getByRole("list", { name: "Sessions" });
    await waitFor(() => expect(within(sessions).getAllByRole("listitem")).toHaveLength(1));
    await waitFor(() => expect(session.current).toMatchObject({ user: { totp_enabled: false } }));
  });

  it("already off elsewhere (409 totp_not_enabled) shows it off", async () => {
    const card = await onAccountPage();
    const user = userEvent.setup();
    await user.click(within(card).getByRole("button", { name: "Turn off…" }));
    server.totp = "off";
    server.user = { ...server.user, totp_enabled: false };
    await user.type(within(card).getByLabelText("Your password"), server.password);
    await user.click(within(card).getByRole("button", { name: "Turn off" }));
    await within(card).findByRole("button", { name: "Set up authenticator app" });
    await waitFor(() => expect(pageStatus().textContent).toBe("Two-step verification was already off."));
  });
});

// ---- the Account page: passkeys ------------------------------------------------------------------

async function passkeysCard() {
  server.seedCookie();
  renderApp("/account");
  const card = await screen.findByRole("region", { name: "Passkeys" });
  const list = await within(card).findByRole("list", { name: "Passkeys" });
  return { card, list };
}

describe("the passkeys list", () => {
  it("names each passkey with when it was added and last used", async () => {
    const { list } = await passkeysCard();
    const [laptop, phone] = within(list).getAllByRole("listitem") as [HTMLElement, HTMLElement];
    expect(laptop.textContent).toContain("Work laptop");
    expect(laptop.textContent).toContain("Added 19 days ago");
    expect(laptop.textContent).toContain("Last used 30 minutes ago");
    expect(phone.textContent).toContain("Phone");
    expect(phone.textContent).toContain("Not used yet");
    const remove = within(phone).getByRole("button", { name: "Remove passkey “Phone”" });
    expect(describedBy(remove)).toContain("Not used yet");
  });

  it("adds a passkey under the name typed, says so, and asks for the activity again", async () => {
    const { card, list } = await passkeysCard();
    const user = userEvent.setup();
    const eventsBefore = calls("GET", "/api/auth/events").length;
    await user.type(within(card).getByLabelText("Name for a new passkey"), "Desk key");
    await user.click(within(card).getByRole("button", { name: "Add a passkey" }));

    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(3));
    const added = within(list).getAllByRole("listitem")[2]!;
    expect(added.textContent).toContain("Desk key");
    expect(added.textContent).toContain("Added just now");
    await waitFor(() => expect(pageStatus().textContent).toBe("Passkey “Desk key” added. You can sign in with it now."));
    await waitFor(() => expect(document.activeElement).toBe(added));
    expect((within(card).getByLabelText("Name for a new passkey") as HTMLInputElement).value).toBe("");
    expect(calls("GET", "/api/auth/events").length).toBe(eventsBefore + 1);
  });

  it("a closed prompt is a quiet note; a device that has one already is an error", async () => {
    const { card } = await passkeysCard();
    const user = userEvent.setup();
    webauthn.failWith = "NotAllowedError";
    await user.click(within(card).getByRole("button", { name: "Add a passkey" }));
    await within(card).findByText("Adding a passkey was cancelled.");
    expect(within(card).getByText("Adding a passkey was cancelled.").getAttribute("role")).toBe("status");
    expect(within(card).queryByRole("alert")).toBeNull();

    webauthn.failWith = "InvalidStateError";
    await user.click(within(card).getByRole("button", { name: "Add a passkey" }));
    expect((await within(card).findByRole("alert")).textContent).toContain(
      "This device already has a passkey for your account.",
    );
    expect(calls("POST", "/api/auth/passkeys/register/finish")).toHaveLength(0);
  });

  it("a name the service refuses is said on the name field; a passkey it has already, as such", async () => {
    const { card } = await passkeysCard();
    const user = userEvent.setup();
    server.handlers.set("POST /api/auth/passkeys/register/finish", () =>
      problem(422, "validation_failed", { errors: [{ field: "name", code: "invalid_name", message: "too long" }] }),
    );
    const name = within(card).getByLabelText("Name for a new passkey");
    await user.type(name, "Desk key");
    await user.click(within(card).getByRole("button", { name: "Add a passkey" }));
    expect((await within(card).findByRole("alert")).textContent).toBe("Use at most 64 characters.");
    expect(name.getAttribute("aria-invalid")).toBe("true");
    await waitFor(() => expect(document.activeElement).toBe(name));

    server.handlers.set("POST /api/auth/passkeys/register/finish", () => problem(409, "passkey_exists"));
    await user.click(within(card).getByRole("button", { name: "Add a passkey" }));
    await waitFor(() =>
      expect(within(card).getByRole("alert").textContent).toContain("This device already has a passkey for your account."),
    );
    expect(name.getAttribute("aria-invalid")).toBeNull();
  });

  it("a registration the service refuses (401 invalid_credentials) is said, and the session stays", async () => {
    const { card } = await passkeysCard();
    server.handlers.set("POST /api/auth/passkeys/register/finish", () => problem(401, "invalid_credentials"));
    await userEvent.setup().click(within(card).getByRole("button", { name: "Add a passkey" }));
    expect((await within(card).findByRole("alert")).textContent).toContain("The passkey could not be checked");
    expect(session.current.status).toBe("signed-in");
    expect(calls("POST", "/api/auth/refresh")).toHaveLength(1); // the restore on load only
  });

  it("removes one after a confirmation that says the password still works", async () => {
    const { list } = await passkeysCard();
    const user = userEvent.setup();
    await user.click(within(list).getByRole("button", { name: "Remove passkey “Work laptop”" }));
    let dialog = screen.getByRole("dialog", { name: "Remove this passkey?" });
    expect(dialog.textContent).toContain("“Work laptop” will no longer sign you in.");
    expect(dialog.textContent).toContain("You can still sign in with your password.");
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(server.passkeys).toHaveLength(2);

    await user.click(within(list).getByRole("button", { name: "Remove passkey “Work laptop”" }));
    dialog = screen.getByRole("dialog", { name: "Remove this passkey?" });
    await user.click(within(dialog).getByRole("button", { name: "Remove passkey" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    expect(calls("DELETE", `/api/auth/passkeys/${somePasskeys()[0]!.id}`)).toHaveLength(1);
    await waitFor(() => expect(pageStatus().textContent).toBe("Passkey “Work laptop” removed."));
    await waitFor(() =>
      expect(document.activeElement).toBe(within(list).getByRole("button", { name: "Remove passkey “Phone”" })),
    );
  });

  it("with the authenticator app on, the confirmation names it too", async () => {
    server.totp = "on";
    server.user = { ...server.user, totp_enabled: true };
    const { list } = await passkeysCard();
    await userEvent.setup().click(within(list).getByRole("button", { name: "Remove passkey “Phone”" }));
    expect(screen.getByRole("dialog").textContent).toContain(
      "You can still sign in with your password and a code from your authenticator app.",
    );
  });

  it("the last one removed leaves the heading focused and says there are none", async () => {
    server.passkeys = server.passkeys.slice(0, 1);
    const { card, list } = await passkeysCard();
    const user = userEvent.setup();
    await user.click(within(list).getByRole("button", { name: "Remove passkey “Work laptop”" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove passkey" }));
    await within(card).findByText("No passkeys yet.");
    await waitFor(() => expect(document.activeElement).toBe(within(card).getByRole("heading", { name: "Passkeys" })));
  });

  it("says when the list cannot be loaded, with Try again", async () => {
    server.handlers.set("GET /api/auth/passkeys", () => problem(500, "internal"));
    server.seedCookie();
    renderApp("/account");
    const card = await screen.findByRole("region", { name: "Passkeys" });
    const alert = await within(card).findByRole("alert");
    expect(alert.textContent).toMatch(/Could not load your passkeys/);
    server.handlers.delete("GET /api/auth/passkeys");
    await userEvent.setup().click(within(alert).getByRole("button", { name: "Try again" }));
    expect(within(await within(card).findByRole("list", { name: "Passkeys" })).getAllByRole("listitem")).toHaveLength(2);
  });

  it("without WebAuthn, Add is disabled and says why; the list and Remove still work", async () => {
    webauthn.supported = false;
    const { card, list } = await passkeysCard();
    const add = within(card).getByRole("button", { name: "Add a passkey" });
    expect(add).toHaveProperty("disabled", true);
    expect(describedBy(add)).toMatch(/This browser can't make passkeys/);
    expect(within(list).getByRole("button", { name: "Remove passkey “Phone”" })).toHaveProperty("disabled", false);
  });
});

it("a passkey sign-in then an Account page with the passkey marked used", async () => {
  renderApp("/account");
  await userEvent.setup().click(await screen.findByRole("button", { name: "Sign in with a passkey" }));
  const card = await screen.findByRole("region", { name: "Passkeys" });
  const list = await within(card).findByRole("list", { name: "Passkeys" });
  expect(within(list).getAllByRole("listitem")[0]!.textContent).toContain("Last used just now");
});
