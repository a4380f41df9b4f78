// Issue 15's second factors in real Chromium, against the real services:
//
// Frank, in a profile of his own with a virtual authenticator (the DevTools protocol's WebAuthn
// domain: CTAP2, internal transport, resident keys, user verification that always succeeds), adds
// a passkey on the Account page, signs out and back in with the passkey alone, and removes it;
// the removed passkey is then refused with words, and his password still works.
//
// Grace, in another profile, sets up an authenticator app: the secret is read off the screen and
// the codes are computed here (RFC 6238, SHA-1, 6 digits, 30 s); she saves her recovery codes
// (the downloaded file holds them), signs in with password and code, signs in with a passkey alone
// while the app is on (no code asked), signs in with a recovery code (which works once), and turns
// the app off with her password.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { appUrl, authUrl, expect, screenshot, screenshotOf, waitFor } from "./harness.mjs";
import {
  activityCard,
  addTask,
  eventLabels,
  expectFitsWidth,
  expectTitles,
  onTaskScreen,
  openAccount,
  openTasks,
  signIn,
  signUp,
} from "./app.mjs";

// ---- TOTP (RFC 6238 over RFC 4226), to play the authenticator app -------------------------------

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(text) {
  const out = [];
  let bits = 0;
  let value = 0;
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    const i = BASE32.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit code for 30-second time step `step`. */
export function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[19] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

const currentStep = () => Math.floor(Date.now() / 30_000);

/**
 * A phone's authenticator app: each code it gives is for a time step not used before (the service
 * takes a code once, one step either side of now), so two sign-ins within 30 s need not wait: the
 * next step's code is accepted early. Waits only when even that one was used.
 */
class Authenticator {
  lastStep = 0;
  constructor(secret) {
    this.secret = secret;
  }
  async code() {
    let step = Math.max(currentStep(), this.lastStep + 1);
    while (step > currentStep() + 1) await new Promise((r) => setTimeout(r, 500));
    // Not the previous step: it could be a moment from leaving the service's window.
    step = Math.max(step, currentStep());
    this.lastStep = step;
    return totp(this.secret, step);
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/** A virtual authenticator on `page` (what a laptop's fingerprint reader would be), as the brief
 * for a passkey needs: discoverable credentials, user verification, no prompt to answer. */
async function addVirtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async credentials() {
      return (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
    },
  };
}

const signOutButton = (page) => page.getByRole("banner").getByRole("button", { name: "Sign out", exact: true });

/** Signs out from the task list: the app keeps the address it was at for after the next sign-in,
 * and these scenarios want the task list then. */
async function signOut(page) {
  if (!(await page.getByRole("heading", { name: "Your tasks", level: 1 }).isVisible())) await openTasks(page);
  await signOutButton(page).click();
  await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
}

const passkeysCard = (page) => page.getByRole("region", { name: "Passkeys" });
const passkeyItems = (page) => passkeysCard(page).getByRole("list", { name: "Passkeys" }).getByRole("listitem");
const twoStepCard = (page) => page.getByRole("region", { name: "Two-step verification" });

/** Waits until the security activity's newest events are `labels` (newest first). */
async function expectNewestEvents(page, labels) {
  await waitFor(
    async () => JSON.stringify((await eventLabels(page)).slice(0, labels.length)) === JSON.stringify(labels),
    `the newest events should be ${JSON.stringify(labels)}, saw ${JSON.stringify(await eventLabels(page))}`,
  );
}

/** The focused element's accessible name, roughly: its text or label. */
const focusedText = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    if (!el) return "";
    if (el.labels?.length) return el.labels[0].textContent;
    return el.textContent;
  });

// ---- the scenarios ------------------------------------------------------------------------------

/**
 * @param {{ browsers: import("./harness.mjs").Browsers, desktop: object, phone: object, stamp: string }} options
 */
export function secondFactorScenarios({ browsers, desktop, phone, stamp }) {
  const frank = { name: "Frank Example", email: `frank-${stamp}@example.com`, password: "juniper-otter-violin-73" };
  const grace = { name: "Grace Example", email: `grace-${stamp}@example.com`, password: "harbour-quill-meadow-26" };
  let frankPage;
  let gracePage;
  let frankKey;
  let graceKey;
  let app; // Grace's authenticator app
  let recoveryCodes = [];

  const FRANK_ADDED = "a passkey added on the Account page (virtual authenticator)";
  const GRACE_ON = "the authenticator app set up: QR code, key, first code, recovery codes saved";

  return [
    {
      name: FRANK_ADDED,
      page: () => frankPage,
      async run({ step }) {
        await step("Frank signs up in a browser with a platform authenticator, and adds a task", async () => {
          const context = await browsers.launch(desktop);
          frankPage = browsers.watch(context.pages()[0] ?? (await context.newPage()), "frank");
          frankKey = await addVirtualAuthenticator(frankPage);
          await frankPage.goto(appUrl);
          await signUp(frankPage, frank);
          await onTaskScreen(frankPage);
          await addTask(frankPage, "Frank's passkey-only task");
        });

        await step("the Account page's Passkeys card says he has none", async () => {
          await openAccount(frankPage);
          await passkeysCard(frankPage).getByText("No passkeys yet.").waitFor();
        });

        await step("Add a passkey: the browser makes a discoverable credential, the list shows it", async () => {
          const card = passkeysCard(frankPage);
          await card.getByLabel("Name for a new passkey").fill("Frank's laptop");
          const finished = frankPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/passkeys/register/finish`);
          await card.getByRole("button", { name: "Add a passkey" }).click();
          expect((await finished).status() === 201, `register/finish answered ${(await finished).status()}`);
          await waitFor(async () => (await passkeyItems(frankPage).count()) === 1, "the new passkey is not listed");
          const text = await passkeyItems(frankPage).first().innerText();
          expect(/Frank's laptop/.test(text), `the item says ${JSON.stringify(text)}`);
          expect(/Added just now/.test(text) && /Not used yet/.test(text), `the item says ${JSON.stringify(text)}`);
          const stored = await frankKey.credentials();
          expect(stored.length === 1 && stored[0].isResidentCredential, `the authenticator holds ${JSON.stringify(stored)}`);
          await frankPage
            .getByRole("status")
            .filter({ hasText: "Passkey “Frank's laptop” added. You can sign in with it now." })
            .waitFor({ state: "attached" });
          await expectNewestEvents(frankPage, ["Passkey added"]);
        });

        await step("screenshots of the card, at desktop width and at 320 px", async () => {
          await screenshotOf(frankPage, passkeysCard(frankPage), "desktop-passkeys.png");
          try {
            await expectFitsWidth(frankPage, 320, phone.height);
            await screenshotOf(frankPage, passkeysCard(frankPage), "phone-passkeys-320.png");
          } finally {
            await frankPage.setViewportSize(desktop);
          }
        });
      },
    },

    {
      name: "sign out, then in with the passkey alone, to the task list",
      needs: [FRANK_ADDED],
      page: () => frankPage,
      async run({ step }) {
        await step("signed out, the sign-in form offers “Sign in with a passkey”", async () => {
          await signOut(frankPage);
          await screenshot(frankPage, "desktop-signin-passkey.png");
        });

        await step("the passkey alone signs him in: no email, no password; his task is there", async () => {
          const finished = frankPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/passkeys/signin/finish`);
          await frankPage.getByRole("button", { name: "Sign in with a passkey" }).click();
          expect((await finished).status() === 200, `signin/finish answered ${(await finished).status()}`);
          await onTaskScreen(frankPage);
          await expectTitles(frankPage, ["Frank's passkey-only task"], "Frank's tasks after a passkey sign-in");
          expect((await frankPage.getByLabel("Email", { exact: true }).count()) === 0, "the sign-in form is still there");
        });

        await step("the session lives on a reload (the refresh cookie was set as for a password)", async () => {
          await frankPage.reload();
          await onTaskScreen(frankPage);
          await expectTitles(frankPage, ["Frank's passkey-only task"], "after a reload");
        });

        await step("the Account page says the passkey was used just now", async () => {
          await openAccount(frankPage);
          await waitFor(
            async () => /Last used just now/.test(await passkeyItems(frankPage).first().innerText()),
            "the passkey does not say it was used",
          );
        });
      },
    },

    {
      name: "the passkey removed, after a confirmation; it no longer signs in, the password does",
      needs: [FRANK_ADDED],
      page: () => frankPage,
      async run({ step }) {
        await step("Remove asks first, saying the password still works; Cancel keeps it", async () => {
          if (!(await passkeysCard(frankPage).isVisible())) await openAccount(frankPage);
          await passkeyItems(frankPage).getByRole("button", { name: "Remove passkey “Frank's laptop”" }).click();
          const dialog = frankPage.getByRole("dialog", { name: "Remove this passkey?" });
          await dialog.waitFor();
          const text = await dialog.innerText();
          expect(/You can still sign in with your password\./.test(text), `the dialog says ${JSON.stringify(text)}`);
          await screenshot(frankPage, "desktop-passkey-remove.png");
          await dialog.getByRole("button", { name: "Cancel" }).click();
          expect((await passkeyItems(frankPage).count()) === 1, "Cancel removed it");
        });

        await step("confirmed, it is gone; the keyboard is on the card's heading", async () => {
          await passkeyItems(frankPage).getByRole("button", { name: "Remove passkey “Frank's laptop”" }).click();
          const removed = frankPage.waitForResponse(
            (r) => r.url().startsWith(`${authUrl}/api/auth/passkeys/`) && r.request().method() === "DELETE",
          );
          await frankPage.getByRole("dialog").getByRole("button", { name: "Remove passkey" }).click();
          expect((await removed).status() === 204, `DELETE answered ${(await removed).status()}`);
          await passkeysCard(frankPage).getByText("No passkeys yet.").waitFor();
          await waitFor(async () => (await focusedText(frankPage)) === "Passkeys", "the focus is not on the heading");
          await expectNewestEvents(frankPage, ["Passkey removed"]);
        });

        await step("the browser still holds it, but the service refuses it, in words, and stays signed out", async () => {
          await signOut(frankPage);
          const finished = frankPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/passkeys/signin/finish`);
          await frankPage.getByRole("button", { name: "Sign in with a passkey" }).click();
          expect((await finished).status() === 401, `signin/finish answered ${(await finished).status()}`);
          await frankPage.getByRole("alert").filter({ hasText: "That passkey wasn't accepted." }).waitFor();
          await frankPage.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        });

        await step("his password signs him in", async () => {
          await signIn(frankPage, frank);
          await onTaskScreen(frankPage);
        });
      },
    },

    {
      name: GRACE_ON,
      page: () => gracePage,
      async run({ step }) {
        let setup;
        await step("Grace signs up and opens the Account page: two-step verification is off", async () => {
          const context = await browsers.launch(desktop);
          gracePage = browsers.watch(context.pages()[0] ?? (await context.newPage()), "grace");
          await gracePage.goto(appUrl);
          await signUp(gracePage, grace);
          await onTaskScreen(gracePage);
          await addTask(gracePage, "Grace's task");
          await openAccount(gracePage);
          await twoStepCard(gracePage).getByRole("button", { name: "Set up authenticator app" }).waitFor();
        });

        await step("Set up shows a QR code and the key, the focus on the step", async () => {
          const answered = gracePage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/mfa/totp/setup`);
          await twoStepCard(gracePage).getByRole("button", { name: "Set up authenticator app" }).click();
          const res = await answered;
          expect(res.status() === 200, `setup answered ${res.status()}`);
          setup = await res.json();
          const card = twoStepCard(gracePage);
          const qr = card.getByRole("img", { name: "QR code for adding your Tasks account to an authenticator app" });
          await qr.waitFor();
          const drawn = await qr.evaluate((img) => img.complete && img.naturalWidth > 0);
          expect(drawn, "the QR code image did not load");
          await waitFor(
            async () => (await focusedText(gracePage)) === "Scan this QR code with your authenticator app",
            `the focus is on ${JSON.stringify(await focusedText(gracePage))}`,
          );
          expect(
            new URL(setup.otpauth_uri).searchParams.get("secret") === setup.secret,
            `the otpauth URI does not carry the secret: ${setup.otpauth_uri}`,
          );
        });

        await step("the key on the screen is the secret, grouped in fours; the app is set up from it", async () => {
          const shown = (await twoStepCard(gracePage).locator(".secret code").innerText()).trim();
          expect(/^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/.test(shown), `the key reads ${JSON.stringify(shown)}`);
          expect(shown.replace(/\s/g, "") === setup.secret, "the key on the screen is not the secret set up");
          app = new Authenticator(shown);
        });

        await step("screenshots of the set-up, desktop and 320 px (nothing wider than the screen)", async () => {
          await screenshotOf(gracePage, twoStepCard(gracePage), "desktop-totp-setup.png");
          try {
            await expectFitsWidth(gracePage, 320, phone.height);
            await screenshotOf(gracePage, twoStepCard(gracePage), "phone-totp-setup-320.png");
          } finally {
            await gracePage.setViewportSize(desktop);
          }
        });

        await step("a wrong code is said on the field; the app's code turns it on", async () => {
          const card = twoStepCard(gracePage);
          const field = card.getByLabel("Code from the app");
          // A code for an hour ahead: wrong now (but for a one-in-a-million chance).
          await field.fill(totp(app.secret, currentStep() + 120));
          await card.getByRole("button", { name: "Turn on" }).click();
          await card.getByRole("alert").filter({ hasText: "That code didn't work." }).waitFor();
          expect(await field.evaluate((el) => el === document.activeElement), "the field lost the focus");
          await field.fill(await app.code());
          await card.getByRole("button", { name: "Turn on" }).click();
          await card.getByRole("heading", { name: "Save your recovery codes" }).waitFor();
        });

        await step("ten recovery codes, shown once; the download holds them", async () => {
          const card = twoStepCard(gracePage);
          recoveryCodes = await card.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").allInnerTexts();
          expect(recoveryCodes.length === 10, `${recoveryCodes.length} recovery codes`);
          for (const c of recoveryCodes) {
            expect(/^[a-z0-9]{4,}(-[a-z0-9]{4,})+$/.test(c), `a recovery code reads ${JSON.stringify(c)}`);
          }
          // Each on one line, at any width: none broken across two.
          const onOneLine = async (width) => {
            const lines = await card
              .getByRole("list", { name: "Recovery codes" })
              .locator("code")
              .evaluateAll((els) => els.map((el) => el.getClientRects().length));
            expect(lines.every((n) => n === 1), `at ${width} px recovery codes break across lines: ${JSON.stringify(lines)}`);
          };
          await onOneLine(desktop.width);
          const download = gracePage.waitForEvent("download");
          await card.getByRole("button", { name: "Download (.txt)" }).click();
          const file = await download;
          expect(file.suggestedFilename() === "tasks-recovery-codes.txt", `the file is named ${file.suggestedFilename()}`);
          const text = readFileSync(await file.path(), "utf8");
          for (const c of recoveryCodes) expect(text.includes(`\n${c}\n`), `the file lacks ${c}`);
          await screenshotOf(gracePage, card, "desktop-recovery-codes.png");
          try {
            await expectFitsWidth(gracePage, 320, phone.height);
            await onOneLine(320);
            await screenshotOf(gracePage, card, "phone-recovery-codes-320.png");
          } finally {
            await gracePage.setViewportSize(desktop);
          }
        });

        await step("Done only once “I have saved my recovery codes” is ticked; then it is on", async () => {
          const card = twoStepCard(gracePage);
          await card.getByRole("button", { name: "Done" }).click();
          await card.getByRole("alert").filter({ hasText: "Tick the box" }).waitFor();
          await card.getByRole("checkbox", { name: "I have saved my recovery codes" }).check();
          await card.getByRole("button", { name: "Done" }).click();
          await card.getByText("On", { exact: true }).waitFor();
          await card.getByRole("button", { name: "Turn off…" }).waitFor();
          expect(!(await card.getByRole("list", { name: "Recovery codes" }).count()), "the codes are still on show");
          await expectNewestEvents(gracePage, ["Two-step verification turned on"]);
        });
      },
    },

    {
      name: "with the app on: password, then the code step, then the task list",
      needs: [GRACE_ON],
      page: () => gracePage,
      async run({ step }) {
        await step("the password alone is not enough: the code step, its field focused", async () => {
          await signOut(gracePage);
          const refused = gracePage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/signin`);
          await signIn(gracePage, grace);
          expect((await refused).status() === 403, `sign-in answered ${(await refused).status()}`);
          await gracePage.getByRole("heading", { name: "Two-step verification", level: 1 }).waitFor();
          const field = gracePage.getByLabel("Authentication code");
          expect(await field.evaluate((el) => el === document.activeElement), "the code field has no focus");
          expect((await field.getAttribute("autocomplete")) === "one-time-code", "autocomplete is not one-time-code");
          expect((await field.getAttribute("inputmode")) === "numeric", "inputmode is not numeric");
          await screenshot(gracePage, "desktop-signin-code.png");
          try {
            await expectFitsWidth(gracePage, 320, phone.height);
            await screenshot(gracePage, "phone-signin-code-320.png");
          } finally {
            await gracePage.setViewportSize(desktop);
          }
        });

        await step("a wrong code is said on the field; the app's code signs her in", async () => {
          const field = gracePage.getByLabel("Authentication code");
          await field.fill(totp(app.secret, currentStep() + 120));
          await gracePage.getByRole("button", { name: "Verify" }).click();
          await gracePage.getByRole("alert").filter({ hasText: "That code didn't work." }).waitFor();
          await field.fill(await app.code());
          await gracePage.getByRole("button", { name: "Verify" }).click();
          await onTaskScreen(gracePage);
          await expectTitles(gracePage, ["Grace's task"], "Grace's tasks after the code step");
        });
      },
    },

    {
      name: "with the app on, a passkey signs in without asking for a code",
      needs: [GRACE_ON],
      page: () => gracePage,
      async run({ step }) {
        await step("Grace adds a passkey", async () => {
          graceKey = await addVirtualAuthenticator(gracePage);
          await openAccount(gracePage);
          await passkeysCard(gracePage).getByRole("button", { name: "Add a passkey" }).click();
          await waitFor(async () => (await passkeyItems(gracePage).count()) === 1, "the passkey is not listed");
          expect((await graceKey.credentials()).length === 1, "the authenticator holds no credential");
          // Unnamed: the service names it.
          expect((await passkeyItems(gracePage).first().innerText()).includes("Passkey"), "the passkey has no name");
        });

        await step("signed out, the passkey alone signs her in: no code step", async () => {
          await signOut(gracePage);
          await gracePage.getByRole("button", { name: "Sign in with a passkey" }).click();
          await onTaskScreen(gracePage);
        });

        await step("removing it, the confirmation names the password and the app", async () => {
          await openAccount(gracePage);
          await passkeyItems(gracePage).getByRole("button", { name: /^Remove passkey/ }).click();
          const dialog = gracePage.getByRole("dialog", { name: "Remove this passkey?" });
          const text = await dialog.innerText();
          expect(
            text.includes("You can still sign in with your password and a code from your authenticator app."),
            `the dialog says ${JSON.stringify(text)}`,
          );
          await dialog.getByRole("button", { name: "Remove passkey" }).click();
          await passkeysCard(gracePage).getByText("No passkeys yet.").waitFor();
          await expectNewestEvents(gracePage, ["Passkey removed", "Signed in", "Signed out", "Passkey added"]);
        });
      },
    },

    {
      name: "a recovery code signs in instead of the app's code, once",
      needs: [GRACE_ON],
      page: () => gracePage,
      async run({ step }) {
        const [code] = recoveryCodes;
        await step("“Lost your phone? Use a recovery code”, and one of hers (typed in capitals) signs her in", async () => {
          await signOut(gracePage);
          await signIn(gracePage, grace);
          await gracePage.getByRole("button", { name: "Lost your phone? Use a recovery code" }).click();
          const field = gracePage.getByLabel("Recovery code");
          await waitFor(() => field.evaluate((el) => el === document.activeElement), "the recovery field has no focus");
          await field.fill(code.toUpperCase());
          await gracePage.getByRole("button", { name: "Verify" }).click();
          await onTaskScreen(gracePage);
        });

        await step("the same recovery code again is refused; the app's code still works", async () => {
          await signOut(gracePage);
          await signIn(gracePage, grace);
          await gracePage.getByRole("button", { name: "Lost your phone? Use a recovery code" }).click();
          await gracePage.getByLabel("Recovery code").fill(code);
          await gracePage.getByRole("button", { name: "Verify" }).click();
          await gracePage.getByRole("alert").filter({ hasText: "That recovery code didn't work." }).waitFor();
          await gracePage.getByRole("button", { name: "Use a code from your authenticator app" }).click();
          await gracePage.getByLabel("Authentication code").fill(await app.code());
          await gracePage.getByRole("button", { name: "Verify" }).click();
          await onTaskScreen(gracePage);
        });
      },
    },

    {
      name: "the app turned off with the password; then the password alone signs in",
      needs: [GRACE_ON],
      page: () => gracePage,
      async run({ step }) {
        await step("Turn off asks for the password; a wrong one is said on its field", async () => {
          await openAccount(gracePage);
          const card = twoStepCard(gracePage);
          await card.getByRole("button", { name: "Turn off…" }).click();
          await card.getByRole("heading", { name: "Turn off two-step verification?" }).waitFor();
          await card.getByLabel("Your password", { exact: true }).fill("not-her-password-1");
          await card.getByRole("button", { name: "Turn off", exact: true }).click();
          await card.getByRole("alert").filter({ hasText: "That isn't your current password." }).waitFor();
          await screenshotOf(gracePage, card, "desktop-totp-turn-off.png");
        });

        await step("the right one turns it off", async () => {
          const card = twoStepCard(gracePage);
          await card.getByLabel("Your password", { exact: true }).fill(grace.password);
          const answered = gracePage.waitForResponse(
            (r) => r.url() === `${authUrl}/api/auth/mfa/totp` && r.request().method() === "DELETE",
          );
          await card.getByRole("button", { name: "Turn off", exact: true }).click();
          expect((await answered).status() === 204, `DELETE answered ${(await answered).status()}`);
          await card.getByRole("button", { name: "Set up authenticator app" }).waitFor();
          await expectNewestEvents(gracePage, ["Two-step verification turned off"]);
          await screenshotOf(gracePage, activityCard(gracePage), "desktop-second-factor-activity.png");
        });

        await step("signed out, her password alone signs her in again", async () => {
          await signOut(gracePage);
          await signIn(gracePage, grace);
          await onTaskScreen(gracePage);
        });
      },
    },
  ];
}
