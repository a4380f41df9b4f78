#!/usr/bin/env node
// End-to-end test of the built app (web/dist) in real Chromium, against running services.
//
// bin/test-web starts Postgres, both services and then this script; run it by hand with the
// services already up:  E2E_AUTH_URL=... E2E_TASKS_URL=... node e2e/run.mjs
//
// The script serves web/dist itself (a static server with the SPA fallback) on E2E_WEB_PORT
// (default 3000, the origin the services allow by default) and answers /config.json with the
// service URLs under test. Screenshots go to web/test-results/.
//
// The scenarios below tell one story: Alice signs up, works on her tasks, signs out and back
// in; Bob, in a browser profile of his own, sees none of them and pages through a long list.
// Carol, signed in on two browsers (two profiles), uses the Account page: she ends the other
// browser's session, signs out everywhere else, changes her password and deletes her account.
// Dave, in a profile of his own, reads his account's security activity.
// Erin, in a profile of her own (and on a phone), confirms her address from the mailed link,
// forgets her password and sets a new one from the reset mail.
// Frank and Grace use the second factors (e2e/second-factors.mjs): Frank a passkey on a virtual
// authenticator, Grace an authenticator app whose codes are computed here, and her recovery codes.
// Each scenario reports on its own (harness.mjs); one that needs an earlier one that did not
// pass is skipped.
import {
  accessTtl,
  appUrl,
  authUrl,
  Browsers,
  expect,
  runScenarios,
  screenshot,
  screenshotOf,
  serveDist,
  Skip,
  tasksUrl,
  waitFor,
} from "./harness.mjs";
import {
  activityCard,
  addTask,
  apiSignIn,
  apiSignInAndOut,
  checkbox,
  linkInMail,
  mailsTo,
  verifyBanner,
  eventItems,
  eventLabels,
  expectFitsWidth,
  expectSessionCount,
  expectTitles,
  onTaskScreen,
  openAccount,
  openTasks,
  otherSessions,
  signedOutAtNextRequest,
  signIn,
  signUp,
  taskList,
  tasksRequest,
  thisDevice,
  visibleTitles,
} from "./app.mjs";
import { secondFactorScenarios } from "./second-factors.mjs";

const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const alice = { name: "Alice Example", email: `alice-${stamp}@example.com`, password: "violet-otter-harbour-42" };
const bob = { name: "", email: `bob-${stamp}@example.com`, password: "maple-quartz-lantern-77" };
const carol = { name: "Carol Example", email: `carol-${stamp}@example.com`, password: "cobalt-heron-meadow-58" };
const dave = { name: "Dave Example", email: `dave-${stamp}@example.com`, password: "tundra-falcon-pepper-31" };
const erin = { name: "Erin Example", email: `erin-${stamp}@example.com`, password: "saffron-walrus-canyon-19" };
/** The Account page's Security activity shows this many events before "Show more"
 * (useSecurityEvents.ts's EVENTS_PAGE_SIZE). */
const EVENTS_PAGE = 10;
/** The contract: a session that ends takes its access tokens with it within 5 s. Polling every
 * ~0.4 s and the refused refresh that follows add the rest. */
const SIGNED_OUT_WITHIN_MS = 6_500;
const desktop = { width: 1280, height: 860 };
const phone = { width: 375, height: 812 };

const browsers = new Browsers();
let server;
/** Alice's browser profile and her first tab. */
let ctx;
let page;
/** Bob's tab, in a profile of his own (opened by the first scenario that needs him). */
let page2;
/** Carol's two browsers: a desktop one (where the Account page is used) and a phone. */
let carolDesk;
let carolPhone;
/** Dave's tab, in a profile of his own. */
let davePage;
/** Erin's desktop tab and her phone, each a profile of its own. */
let erinPage;
let erinPhone;

const SIGNED_UP = "sign up and add tasks";
const CHANGED = "complete, edit and delete tasks";
const TAKEN_EMAIL = "a taken email at sign-up";
const SECOND_USER = "a second user sees none of the first user's tasks";
const KEYBOARD = "keyboard alone: add, complete and delete a task";
const ACCOUNT = "the Account page lists this device and the other browser's session";
const VERIFIED = "the verification mail's link confirms the address, and the banner goes";

/** Carol's phone on her task list with a live session and a fresh access token: reloaded (the
 * refresh cookie traded for a new token) or, if that session is gone, signed in again. A fresh
 * token outlives the wait for its session's end to reach the task-service, so what signs the
 * phone out afterwards is the refused token, not its expiry. */
async function carolPhoneFresh() {
  const tasks = carolPhone.getByRole("heading", { name: "Your tasks", level: 1 });
  const signInForm = carolPhone.getByRole("heading", { name: "Sign in", level: 1 });
  if (await tasks.isVisible()) {
    await carolPhone.reload();
    await tasks.or(signInForm).waitFor();
  }
  if (await signInForm.isVisible()) await signIn(carolPhone, carol);
  await onTaskScreen(carolPhone);
}

/** Carol's desktop browser on the Account page. */
async function carolDeskOnAccount() {
  if (await carolDesk.getByRole("heading", { name: "Account", level: 1 }).isVisible()) return;
  await openAccount(carolDesk);
}

const scenarios = [
  {
    name: SIGNED_UP,
    page: () => page,
    async run({ step }) {
      await step("the app loads and, with no session, shows the sign-in form", async () => {
        await page.goto(appUrl);
        await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        expect((await page.title()).includes("Sign in"), `title is ${await page.title()}`);
      });

      await step("sign-up shows the service's field-level error next to the password", async () => {
        await signUp(page, { ...alice, password: "password" });
        const alert = page.getByRole("alert").filter({ hasText: /password/i });
        await alert.waitFor();
        const pw = page.getByLabel("Password", { exact: true });
        expect((await pw.getAttribute("aria-invalid")) === "true", "password field is not marked invalid");
        const describedBy = (await pw.getAttribute("aria-describedby")) ?? "";
        const errorId = await alert.getAttribute("id");
        expect(errorId && describedBy.split(" ").includes(errorId), "the error is not tied to the field");
        await screenshot(page, "desktop-signup-error.png");
      });

      await step("sign up → the empty task list", async () => {
        await page.getByLabel("Password", { exact: true }).fill(alice.password);
        await page.getByRole("button", { name: "Create account" }).click();
        await onTaskScreen(page);
        await page.getByText("No tasks yet").waitFor();
        expect((await page.getByText(alice.name).count()) > 0, "the user's name is not shown");
      });

      await step("no token is visible to page scripts", async () => {
        const storage = await page.evaluate(() => ({
          local: Object.keys(localStorage).length,
          session: Object.keys(sessionStorage).length,
          cookie: document.cookie,
        }));
        expect(storage.local === 0 && storage.session === 0, `storage holds ${JSON.stringify(storage)}`);
        expect(!/refresh_token/.test(storage.cookie), "the refresh cookie is readable from script");
      });

      await step("add three tasks (one with a description)", async () => {
        await addTask(page, "Buy oat milk", "Two litres, the barista kind");
        await addTask(page, "Write the report");
        await addTask(page, "Call the plumber");
        await expectTitles(page, ["Buy oat milk", "Write the report", "Call the plumber"], "after adding");
        const first = taskList(page).getByRole("listitem").first();
        expect((await first.innerText()).includes("Call the plumber"), "newest task is not first");
      });
    },
  },

  {
    name: CHANGED,
    needs: [SIGNED_UP],
    page: () => page,
    async run({ step }) {
      await step("complete one (its checkbox is named by the title)", async () => {
        const box = checkbox(page, "Buy oat milk");
        const patched = page.waitForResponse(tasksRequest("PATCH"));
        await box.check();
        expect((await patched).status() === 200, `PATCH answered ${(await patched).status()}`);
        await waitFor(() => box.isChecked(), "the checkbox did not stay checked");
      });

      await step("edit one (title and description)", async () => {
        await taskList(page).getByRole("button", { name: "Edit “Write the report”" }).click();
        const editor = page.getByRole("form", { name: "Edit “Write the report”" });
        await editor.getByLabel("Title").fill("Write the quarterly report");
        await editor.getByLabel("Description").fill("Due Friday");
        const patched = page.waitForResponse(tasksRequest("PATCH"));
        await editor.getByRole("button", { name: "Save" }).click();
        expect((await patched).status() === 200, `PATCH answered ${(await patched).status()}`);
        await checkbox(page, "Write the quarterly report").waitFor();
        await taskList(page).getByText("Due Friday").waitFor();
      });

      await step("delete one, after confirming (cancel first keeps it)", async () => {
        await taskList(page).getByRole("button", { name: "Delete “Call the plumber”" }).click();
        const dialog = page.getByRole("dialog", { name: "Delete this task?" });
        await dialog.waitFor();
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await dialog.waitFor({ state: "detached" });
        await checkbox(page, "Call the plumber").waitFor();
        await taskList(page).getByRole("button", { name: "Delete “Call the plumber”" }).click();
        const deleted = page.waitForResponse(tasksRequest("DELETE"));
        await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
        expect((await deleted).status() === 204, `DELETE answered ${(await deleted).status()}`);
        await expectTitles(page, ["Buy oat milk", "Write the quarterly report"], "after deleting");
      });
    },
  },

  {
    name: "filter and search",
    needs: [CHANGED],
    page: () => page,
    async run({ step }) {
      await step("filter pending / completed / all, and search", async () => {
        const filters = page.getByRole("group", { name: "Show" });
        await filters.getByRole("radio", { name: "Completed" }).check();
        await expectTitles(page, ["Buy oat milk"], "completed filter");
        await filters.getByRole("radio", { name: "Pending" }).check();
        await expectTitles(page, ["Write the quarterly report"], "pending filter");
        await filters.getByRole("radio", { name: "All" }).check();
        await expectTitles(page, ["Buy oat milk", "Write the quarterly report"], "all filter");
        const search = page.getByRole("searchbox", { name: "Search tasks" });
        await search.fill("quarterly");
        await expectTitles(page, ["Write the quarterly report"], "search 'quarterly'");
        // The description too, whatever the case ("Due Friday").
        await search.fill("FRIDAY");
        await expectTitles(page, ["Write the quarterly report"], "search 'FRIDAY' (in a description)");
        await search.fill("zzzz-nothing");
        await page.getByText("No tasks match").waitFor();
        await search.fill("");
        await expectTitles(page, ["Buy oat milk", "Write the quarterly report"], "search cleared");
      });

      await step("desktop screenshot", async () => {
        await screenshot(page, "desktop-tasks.png", { fullPage: true });
      });
    },
  },

  {
    name: "reload and a second tab keep the session",
    needs: [CHANGED],
    page: () => page,
    async run({ step }) {
      await step("reload keeps the session and the tasks as left", async () => {
        await page.reload();
        await onTaskScreen(page);
        await expectTitles(page, ["Buy oat milk", "Write the quarterly report"], "after reload");
        expect(await checkbox(page, "Buy oat milk").isChecked(), "completed task lost its state");
        expect(!(await checkbox(page, "Write the quarterly report").isChecked()), "pending task shows completed");
      });

      await step("a second tab is signed in too", async () => {
        const tab = browsers.watch(await ctx.newPage(), "alice tab 2");
        try {
          await tab.goto(appUrl);
          await onTaskScreen(tab);
          await expectTitles(tab, ["Buy oat milk", "Write the quarterly report"], "second tab");
          // Both tabs refresh at once: the lock keeps the rotating refresh token from being reused.
          await Promise.all([page.reload(), tab.reload()]);
          await onTaskScreen(page);
          await onTaskScreen(tab);
        } finally {
          await tab.close();
        }
      });
    },
  },

  {
    name: "tokens are refreshed before they expire, in two tabs at once, without a sign-out",
    needs: [CHANGED],
    page: () => page,
    async run() {
      if (!(accessTtl > 0 && accessTtl <= 90)) {
        throw new Skip(
          `E2E_ACCESS_TOKEN_TTL=${accessTtl || "unset"}: run the auth-service with a short ACCESS_TOKEN_TTL`,
        );
      }
      const tab = browsers.watch(await ctx.newPage(), "alice tab 3");
      const seen = { refreshed: 0, refused: 0, tasks401: 0 };
      const count = (r) => {
        if (r.url() === `${authUrl}/api/auth/refresh` && r.request().method() === "POST") {
          if (r.status() === 200) seen.refreshed++;
          else seen.refused++;
        }
        if (r.url().startsWith(`${tasksUrl}/`) && r.status() === 401) seen.tasks401++;
      };
      try {
        await tab.goto(appUrl);
        await onTaskScreen(tab);
        page.on("response", count);
        tab.on("response", count);
        // Past a whole access-token lifetime: the timers must have refreshed (the lock and the
        // broadcast keep the two tabs from presenting the same rotating refresh token).
        await page.waitForTimeout((accessTtl + 6) * 1000);
        for (const p of [page, tab]) {
          const filters = p.getByRole("group", { name: "Show" });
          await filters.getByRole("radio", { name: "Pending" }).check();
          await expectTitles(p, ["Write the quarterly report"], "pending after the token lifetime");
          await filters.getByRole("radio", { name: "All" }).check();
          await expectTitles(p, ["Buy oat milk", "Write the quarterly report"], "all after the token lifetime");
        }
      } finally {
        page.off("response", count);
        tab.off("response", count);
        await tab.close();
      }
      expect(seen.refreshed >= 1, `no refresh happened in ${accessTtl + 6}s (${JSON.stringify(seen)})`);
      expect(seen.refused === 0, `a refresh was refused (${JSON.stringify(seen)})`);
      expect(seen.tasks401 === 0, `the task-service saw an expired token (${JSON.stringify(seen)})`);
      console.log(`    # ${seen.refreshed} refresh(es) across both tabs, none refused`);
    },
  },

  {
    name: "phone layout: 375 px screenshot, nothing wider than the screen at 375 and 320 px",
    needs: [SIGNED_UP],
    page: () => page,
    async run() {
      try {
        for (const width of [375, 320]) {
          await expectFitsWidth(page, width, phone.height);
          if (width === 375) await screenshot(page, "phone-tasks.png", { fullPage: true });
        }
      } finally {
        await page.setViewportSize(desktop);
      }
    },
  },

  {
    name: "sign out, a wrong password, a network failure, and back in to the tasks as left",
    needs: [CHANGED],
    page: () => page,
    async run({ step }) {
      await step("sign out → the sign-in form, and a reload stays signed out", async () => {
        const signedOut = page.waitForResponse((r) => r.url() === `${authUrl}/api/auth/signout`);
        await page.getByRole("button", { name: "Sign out" }).click();
        expect((await signedOut).status() === 204, `signout answered ${(await signedOut).status()}`);
        await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        await page.reload();
        await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
      });

      await step("a wrong password shows an alert", async () => {
        await signIn(page, { email: alice.email, password: "not-the-password-1" });
        await page.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
        try {
          await page.setViewportSize(phone);
          await screenshot(page, "phone-signin-error.png", { fullPage: true });
        } finally {
          await page.setViewportSize(desktop);
        }
      });

      await step("a network failure says so and offers a retry that works", async () => {
        const block = (route) => route.abort("connectionrefused");
        await page.route(`${authUrl}/**`, block);
        try {
          await signIn(page, alice);
          const alert = page.getByRole("alert").filter({ hasText: "Can't reach the server" });
          await alert.waitFor();
          await page.unroute(`${authUrl}/**`, block);
          await alert.getByRole("button", { name: "Try again" }).click();
          await onTaskScreen(page);
        } finally {
          await page.unroute(`${authUrl}/**`, block);
        }
      });

      await step("signed in again: the tasks are as left", async () => {
        await expectTitles(page, ["Buy oat milk", "Write the quarterly report"], "after signing in again");
        expect(await checkbox(page, "Buy oat milk").isChecked(), "completed task lost its state");
        expect(!(await checkbox(page, "Write the quarterly report").isChecked()), "pending task shows completed");
      });
    },
  },

  {
    name: TAKEN_EMAIL,
    needs: [SIGNED_UP],
    page: () => page2,
    async run() {
      // A second person, in a browser profile of their own.
      const ctx2 = await browsers.launch(phone);
      page2 = browsers.watch(ctx2.pages()[0] ?? (await ctx2.newPage()), "bob");
      await page2.goto(appUrl);
      await signUp(page2, { ...bob, email: alice.email.toUpperCase() });
      const alert = page2.getByRole("alert").filter({ hasText: "already exists" });
      await alert.waitFor();
      const email = page2.getByLabel("Email", { exact: true });
      expect(((await email.getAttribute("aria-describedby")) ?? "").includes(await alert.getAttribute("id")), "not tied to the email field");
      await alert.getByRole("button", { name: "Sign in instead" }).waitFor();
    },
  },

  {
    name: SECOND_USER,
    // Goes on from the sign-up form that the taken email left, with Bob's own email.
    needs: [TAKEN_EMAIL],
    page: () => page2,
    async run() {
      await page2.getByLabel("Email", { exact: true }).fill(bob.email);
      await page2.getByRole("button", { name: "Create account" }).click();
      await onTaskScreen(page2);
      await page2.getByText("No tasks yet").waitFor();
      expect((await visibleTitles(page2)).length === 0, "the second user sees tasks");
      await screenshot(page2, "phone-empty.png", { fullPage: true });
    },
  },

  {
    name: KEYBOARD,
    needs: [SECOND_USER],
    page: () => page2,
    async run() {
      const focused = () => page2.evaluate(() => {
        const el = document.activeElement;
        return el ? `${el.tagName.toLowerCase()}|${el.getAttribute("aria-label") ?? ""}|${el.labels?.[0]?.textContent ?? ""}` : "";
      });
      async function tabTo(pattern, max = 30) {
        for (let i = 0; i < max; i++) {
          await page2.keyboard.press("Tab");
          if (pattern.test(await focused())) return;
        }
        throw new Error(`Tab never reached ${pattern} (last: ${await focused()})`);
      }
      await tabTo(/^input\|\|Title$/);
      await page2.keyboard.type("Typed without a mouse");
      await page2.keyboard.press("Enter");
      await checkbox(page2, "Typed without a mouse").waitFor();
      await tabTo(/^input\|\|Typed without a mouse$/);
      await page2.keyboard.press("Space");
      await waitFor(() => checkbox(page2, "Typed without a mouse").isChecked(), "Space did not complete the task");
      await tabTo(/^button\|Delete “Typed without a mouse”/);
      await page2.keyboard.press("Enter");
      await page2.getByRole("dialog").waitFor();
      expect(/^button\|\|/.test(await focused()) && (await focused()).length > 0, "the dialog did not take the focus");
      await page2.keyboard.press("Tab"); // Cancel → Delete
      await page2.keyboard.press("Enter");
      await page2.getByText("No tasks yet").waitFor();
    },
  },

  {
    name: "a long list loads more with the service's cursor",
    // Counts on Bob's list being empty before it seeds its own tasks.
    needs: [SECOND_USER, KEYBOARD],
    page: () => page2,
    async run() {
      // Seed 23 tasks straight through the APIs (a non-browser client: refresh token in the body).
      const token = await apiSignIn(bob);
      for (let i = 1; i <= 23; i++) {
        const created = await fetch(`${tasksUrl}/api/tasks`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify({ title: `Seeded task ${String(i).padStart(2, "0")}` }),
        });
        expect(created.status === 201, `seeding answered ${created.status}`);
      }
      await page2.reload();
      await onTaskScreen(page2);
      await waitFor(async () => (await visibleTitles(page2)).length === 20, "the first page is not 20 tasks");
      const titles = await visibleTitles(page2);
      expect(titles[0] === "Seeded task 23", `newest first expected, got ${titles[0]}`);
      await page2.getByRole("button", { name: "Load more" }).scrollIntoViewIfNeeded();
      await screenshot(page2, "phone-load-more.png");
      await page2.getByRole("button", { name: "Load more" }).click();
      await waitFor(async () => (await visibleTitles(page2)).length === 23, "Load more did not bring the rest");
      expect((await page2.getByRole("button", { name: "Load more" }).count()) === 0, "Load more is still offered");
      expect(new Set(await visibleTitles(page2)).size === 23, "duplicates after Load more");
    },
  },

  {
    name: ACCOUNT,
    page: () => carolDesk,
    async run({ step }) {
      await step("Carol signs up on one browser and adds a task, then signs in on a second", async () => {
        const ctxDesk = await browsers.launch(desktop);
        carolDesk = browsers.watch(ctxDesk.pages()[0] ?? (await ctxDesk.newPage()), "carol desktop");
        await carolDesk.goto(appUrl);
        await signUp(carolDesk, carol);
        await onTaskScreen(carolDesk);
        await addTask(carolDesk, "Carol's only task");
        const ctxPhone = await browsers.launch(phone);
        carolPhone = browsers.watch(ctxPhone.pages()[0] ?? (await ctxPhone.newPage()), "carol phone");
        await carolPhone.goto(appUrl);
        await carolPhone.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        await signIn(carolPhone, carol);
        await onTaskScreen(carolPhone);
        await expectTitles(carolPhone, ["Carol's only task"], "Carol's phone");
      });

      await step("the header's Account link opens /account with both sessions, this one marked", async () => {
        await openAccount(carolDesk);
        expect(new URL(carolDesk.url()).pathname === "/account", `the address is ${carolDesk.url()}`);
        expect((await carolDesk.title()).startsWith("Account"), `title is ${await carolDesk.title()}`);
        await expectSessionCount(carolDesk, 2, "Carol's sessions");
        expect((await thisDevice(carolDesk).count()) === 1, "not exactly one session is 'This device'");
        const here = await thisDevice(carolDesk).innerText();
        const there = await otherSessions(carolDesk).innerText();
        for (const [which, text] of [["this device", here], ["the phone", there]]) {
          expect(/Chrome on Linux/.test(text), `${which}: no device named in ${JSON.stringify(text)}`);
          expect(/IP \S+/.test(text), `${which}: no IP in ${JSON.stringify(text)}`);
          expect(/Last used (just now|\d+ minutes? ago)/.test(text), `${which}: no last use in ${JSON.stringify(text)}`);
        }
        expect((await thisDevice(carolDesk).getByRole("button").count()) === 0, "this device offers Sign out in the list");
        await otherSessions(carolDesk).getByRole("button", { name: "Sign out Chrome on Linux", exact: true }).waitFor();
      });

      await step("a reload at /account stays on the Account page", async () => {
        await carolDesk.reload();
        await carolDesk.getByRole("heading", { name: "Account", level: 1 }).waitFor();
        await expectSessionCount(carolDesk, 2, "after reload");
        await screenshot(carolDesk, "desktop-account.png", { fullPage: true });
      });

      await step("at 375 and 320 px nothing is wider than the screen", async () => {
        try {
          for (const width of [375, 320]) await expectFitsWidth(carolDesk, width, phone.height);
          await screenshot(carolDesk, "phone-account-320.png", { fullPage: true });
        } finally {
          await carolDesk.setViewportSize(desktop);
        }
      });
    },
  },

  {
    name: "a session ended on the Account page signs that browser out at its next request",
    needs: [ACCOUNT],
    page: () => carolPhone,
    async run({ step }) {
      let endedAt = 0;
      await step("Sign out on the phone's session ends it", async () => {
        await carolPhoneFresh();
        await carolDesk.reload(); // the phone's session as it is now
        await expectSessionCount(carolDesk, 2, "this browser and the phone");
        const ended = carolDesk.waitForResponse(
          (r) => r.url().startsWith(`${authUrl}/api/auth/sessions/`) && r.request().method() === "DELETE",
        );
        await otherSessions(carolDesk).getByRole("button", { name: "Sign out Chrome on Linux", exact: true }).click();
        expect((await ended).status() === 204, `DELETE answered ${(await ended).status()}`);
        endedAt = Date.now();
        await expectSessionCount(carolDesk, 1, "after ending the phone's session");
        await carolDesk.getByText("You're signed in only here.").waitFor();
      });

      await step(`the phone shows the sign-in form within ${SIGNED_OUT_WITHIN_MS} ms`, async () => {
        const took = await signedOutAtNextRequest(carolPhone, endedAt, SIGNED_OUT_WITHIN_MS);
        console.log(`    # the phone's token was refused ${took} ms after its session ended`);
      });

      await step("this browser is still signed in", async () => {
        await openTasks(carolDesk);
        await expectTitles(carolDesk, ["Carol's only task"], "Carol's desktop");
      });
    },
  },

  {
    name: "sign out everywhere else ends the other browser's and an API client's sessions",
    needs: [ACCOUNT],
    page: () => carolDesk,
    async run({ step }) {
      let token;
      await step("Carol signs in again on the phone, and through the API", async () => {
        await carolPhoneFresh();
        token = await apiSignIn(carol);
        await carolDeskOnAccount();
        await carolDesk.reload();
        await expectSessionCount(carolDesk, 3, "three sessions");
      });

      let endedAt = 0;
      await step("Sign out everywhere else leaves this device alone in the list", async () => {
        const ended = carolDesk.waitForResponse((r) => r.url() === `${authUrl}/api/auth/signout-all`);
        await carolDesk.getByRole("button", { name: "Sign out everywhere else", exact: true }).click();
        expect((await ended).status() === 204, `signout-all answered ${(await ended).status()}`);
        endedAt = Date.now();
        await expectSessionCount(carolDesk, 1, "after signing out everywhere else");
        expect((await thisDevice(carolDesk).count()) === 1, "this device is not the one left");
        await carolDesk.getByText("You're signed in only here.").waitFor();
      });

      await step("the phone is signed out at its next request", async () => {
        const took = await signedOutAtNextRequest(carolPhone, endedAt, SIGNED_OUT_WITHIN_MS);
        console.log(`    # the phone's token was refused ${took} ms after signout-all`);
      });

      await step("the API client's access token is refused by the task-service", async () => {
        await waitFor(
          async () => {
            const res = await fetch(`${tasksUrl}/api/tasks`, { headers: { Authorization: `Bearer ${token}` } });
            return res.status === 401;
          },
          "the task-service still accepts the API client's token",
          Math.max(0, endedAt + SIGNED_OUT_WITHIN_MS - Date.now()),
        );
      });

      await step("this browser still works", async () => {
        await carolDesk.reload();
        await carolDesk.getByRole("heading", { name: "Account", level: 1 }).waitFor();
        await expectSessionCount(carolDesk, 1, "after reload");
      });
    },
  },

  {
    name: "change password: other sessions end, the old password is refused, the new one accepted",
    needs: [ACCOUNT],
    page: () => carolDesk,
    async run({ step }) {
      const form = carolDesk.getByRole("region", { name: "Change password" });
      const current = form.getByLabel("Current password", { exact: true });
      const next = form.getByLabel("New password", { exact: true });
      const newPassword = "saffron-kestrel-quarry-19";
      let oldPassword = "";

      await step("the phone signs in again", async () => {
        await carolPhoneFresh();
      });

      await step("a wrong current password is placed on its field", async () => {
        await carolDeskOnAccount();
        await current.fill("not-my-password-9");
        await next.fill(newPassword);
        await form.getByRole("button", { name: "Change password" }).click();
        await form.getByText("That isn't your current password.").waitFor();
        expect((await current.getAttribute("aria-invalid")) === "true", "current password not marked invalid");
      });

      await step("a too-common new password is placed on its field", async () => {
        await current.fill(carol.password);
        await next.fill("password123");
        await form.getByRole("button", { name: "Change password" }).click();
        await waitFor(async () => (await next.getAttribute("aria-invalid")) === "true", "new password not marked invalid");
        expect((await current.getAttribute("aria-invalid")) !== "true", "the current password is marked invalid");
      });

      let changedAt = 0;
      await step("the change is made, and this browser stays signed in", async () => {
        await carolPhoneFresh();
        await current.fill(carol.password);
        await next.fill(newPassword);
        const changed = carolDesk.waitForResponse((r) => r.url() === `${authUrl}/api/auth/password`);
        await form.getByRole("button", { name: "Change password" }).click();
        expect((await changed).status() === 204, `password change answered ${(await changed).status()}`);
        changedAt = Date.now();
        oldPassword = carol.password;
        carol.password = newPassword;
        await form.getByText("Password changed.").waitFor();
        await expectSessionCount(carolDesk, 1, "after the password change");
      });

      await step("the phone is signed out at its next request", async () => {
        const took = await signedOutAtNextRequest(carolPhone, changedAt, SIGNED_OUT_WITHIN_MS);
        console.log(`    # the phone's token was refused ${took} ms after the password change`);
      });

      await step("the old password is refused at sign-in, the new one accepted", async () => {
        await signIn(carolPhone, { ...carol, password: oldPassword });
        await carolPhone.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
        await signIn(carolPhone, carol);
        await onTaskScreen(carolPhone);
        await expectTitles(carolPhone, ["Carol's only task"], "signed in with the new password");
      });

      await step("this browser is still signed in after a reload", async () => {
        await carolDesk.reload();
        await carolDesk.getByRole("heading", { name: "Account", level: 1 }).waitFor();
        await expectSessionCount(carolDesk, 2, "this browser and the phone again");
      });
    },
  },

  {
    name: "delete account: every session ends, and the tasks go too",
    needs: [ACCOUNT],
    page: () => carolDesk,
    async run({ step }) {
      const card = carolDesk.getByRole("region", { name: "Delete account" });
      const password = card.getByLabel("Password", { exact: true });
      const dialog = carolDesk.getByRole("dialog", { name: "Delete your account?" });

      await step("the phone is signed in", async () => {
        await carolPhoneFresh();
        await carolDeskOnAccount();
        await carolDesk.reload();
        await carolDesk.getByRole("heading", { name: "Account", level: 1 }).waitFor();
      });

      await step("a wrong password is refused, after the confirmation", async () => {
        await password.fill("not-my-password-9");
        await card.getByRole("button", { name: "Delete account…" }).click();
        await dialog.waitFor();
        await dialog.getByRole("button", { name: "Delete account" }).click();
        await card.getByText("That isn't your current password.").waitFor();
        await dialog.waitFor({ state: "detached" });
      });

      await step("the confirmation says the tasks go too; Cancel keeps everything", async () => {
        await password.fill(carol.password);
        await card.getByRole("button", { name: "Delete account…" }).click();
        await dialog.waitFor();
        const text = await dialog.innerText();
        expect(/all its tasks/.test(text) && text.includes(carol.email), `the dialog says ${JSON.stringify(text)}`);
        await screenshot(carolDesk, "desktop-delete-account.png");
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await dialog.waitFor({ state: "detached" });
        await carolDesk.getByRole("heading", { name: "Account", level: 1 }).waitFor();
        await otherSessions(carolDesk).first().waitFor(); // the phone's session lives on
      });

      let deletedAt = 0;
      await step("confirmed: the sign-in form at / says the account is gone", async () => {
        await carolPhoneFresh();
        await card.getByRole("button", { name: "Delete account…" }).click();
        const deleted = carolDesk.waitForResponse(
          (r) => r.url() === `${authUrl}/api/auth/me` && r.request().method() === "DELETE",
        );
        await dialog.getByRole("button", { name: "Delete account" }).click();
        expect((await deleted).status() === 204, `DELETE /api/auth/me answered ${(await deleted).status()}`);
        deletedAt = Date.now();
        await carolDesk.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        await carolDesk.getByText("Your account and all its tasks have been deleted.").waitFor();
        expect(new URL(carolDesk.url()).pathname === "/", `the address is ${carolDesk.url()}`);
      });

      await step("the phone is signed out at its next request", async () => {
        const took = await signedOutAtNextRequest(carolPhone, deletedAt, SIGNED_OUT_WITHIN_MS);
        console.log(`    # the phone's token was refused ${took} ms after the account was deleted`);
      });

      await step("the old password no longer signs in", async () => {
        await signIn(carolPhone, carol);
        await carolPhone.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
      });

      await step("signing up again with the same email works, with an empty list", async () => {
        await signUp(carolDesk, carol);
        await onTaskScreen(carolDesk);
        await carolDesk.getByText("No tasks yet").waitFor();
        expect((await visibleTitles(carolDesk)).length === 0, "the new account sees tasks");
        await carolDesk.reload();
        await onTaskScreen(carolDesk);
        await carolDesk.getByText("No tasks yet").waitFor();
      });
    },
  },

  {
    name: "the Account page's security activity: sign-up, a failed sign-in, a password change, Show more",
    page: () => davePage,
    async run({ step }) {
      await step("Dave signs up, signs out, gets his password wrong once, and signs in", async () => {
        const context = await browsers.launch(desktop);
        davePage = browsers.watch(context.pages()[0] ?? (await context.newPage()), "dave");
        await davePage.goto(appUrl);
        await signUp(davePage, dave);
        await onTaskScreen(davePage);
        await davePage.getByRole("button", { name: "Sign out" }).click();
        await signIn(davePage, { ...dave, password: "not-my-password-9" });
        await davePage.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
        await signIn(davePage, dave);
        await onTaskScreen(davePage);
      });

      await step("he changes his password on the Account page", async () => {
        await openAccount(davePage);
        const form = davePage.getByRole("region", { name: "Change password" });
        await form.getByLabel("Current password", { exact: true }).fill(dave.password);
        dave.password = "glacier-mango-tinsel-64";
        await form.getByLabel("New password", { exact: true }).fill(dave.password);
        await form.getByRole("button", { name: "Change password" }).click();
        await form.getByText("Password changed.").waitFor();
      });

      await step("Security activity lists all of it, newest first, the failed attempt marked", async () => {
        const expected = ["Password changed", "Signed in", "Failed sign-in attempt, Failed", "Signed out", "Account created"];
        // The list is asked for again after the change: wait for the answer that has it.
        await waitFor(
          async () => JSON.stringify(await eventLabels(davePage)) === JSON.stringify(expected),
          `expected ${JSON.stringify(expected)}, saw ${JSON.stringify(await eventLabels(davePage))}`,
        );
        const failed = eventItems(davePage).nth(2);
        expect(/\bflagged\b/.test((await failed.getAttribute("class")) ?? ""), "the failed sign-in is not marked");
        const badge = failed.locator(".badge");
        expect(await badge.isVisible(), "the failed sign-in's badge is not visible");
        expect(/Failed$/.test((await badge.textContent()) ?? ""), `the badge says ${await badge.textContent()}`);
        for (const [i, text] of (await eventItems(davePage).allInnerTexts()).entries()) {
          expect(/Chrome on Linux/.test(text), `event ${i}: no device in ${JSON.stringify(text)}`);
          expect(/IP \S+/.test(text), `event ${i}: no IP in ${JSON.stringify(text)}`);
          expect(/just now|minutes? ago/.test(text), `event ${i}: no time in ${JSON.stringify(text)}`);
        }
        const title = await eventItems(davePage).first().locator("time").getAttribute("title");
        expect(/\d{4}/.test(title ?? ""), `the time's title is ${JSON.stringify(title)}`);
        expect(!(await activityCard(davePage).getByRole("button", { name: "Show more" }).count()), "Show more with one page");
      });

      await step(`past ${EVENTS_PAGE} events, Show more brings the older ones`, async () => {
        // Three API clients sign in and out: six more events, eleven in all.
        for (let i = 0; i < 3; i++) await apiSignInAndOut(dave);
        await davePage.reload();
        await davePage.getByRole("heading", { name: "Account", level: 1 }).waitFor();
        await waitFor(async () => (await eventItems(davePage).count()) === EVENTS_PAGE, `not ${EVENTS_PAGE} events on show`);
        const labels = await eventLabels(davePage);
        expect(labels[0] === "Signed out" && labels[1] === "Signed in", `newest first: ${JSON.stringify(labels)}`);
        expect(/\bnode\b/.test(await eventItems(davePage).first().innerText()), "the API client's device is not named");
        await screenshotOf(davePage, activityCard(davePage), "desktop-security-activity-card.png");
        // From the keyboard: the button takes the focus and Enter presses it.
        const more = activityCard(davePage).getByRole("button", { name: "Show more" });
        await more.focus();
        await davePage.keyboard.press("Enter");
        await waitFor(async () => (await eventItems(davePage).count()) === EVENTS_PAGE + 1, "the older page did not come");
        expect((await eventLabels(davePage)).at(-1) === "Account created", "the oldest event is not the sign-up");
        await more.waitFor({ state: "detached" });
        await waitFor(
          () => eventItems(davePage).last().evaluate((el) => el === document.activeElement),
          "the keyboard is not on the event Show more brought",
        );
        await screenshot(davePage, "desktop-security-activity.png", { fullPage: true });
      });

      await step("at 320 px nothing is wider than the screen", async () => {
        try {
          await expectFitsWidth(davePage, 320, phone.height);
          await screenshotOf(davePage, activityCard(davePage), "phone-security-activity-320.png");
        } finally {
          await davePage.setViewportSize(desktop);
        }
      });
    },
  },

  {
    name: VERIFIED,
    page: () => erinPage,
    async run({ step }) {
      await step("Erin signs up: the banner says where the link went", async () => {
        const context = await browsers.launch(desktop);
        erinPage = browsers.watch(context.pages()[0] ?? (await context.newPage()), "erin");
        await erinPage.goto(appUrl);
        await signUp(erinPage, erin);
        await onTaskScreen(erinPage);
        const banner = verifyBanner(erinPage);
        await banner.waitFor();
        const text = await banner.innerText();
        expect(text.includes(`we sent a link to ${erin.email}`), `the banner says ${JSON.stringify(text)}`);
      });

      await step("Resend within the minute says how long to wait, and sends nothing", async () => {
        await linkInMail(erin.email, "/verify-email", 1);
        const banner = verifyBanner(erinPage);
        await banner.getByRole("button", { name: /^Resend/ }).click();
        await banner
          .getByRole("status")
          .filter({ hasText: /^A link was sent a moment ago\. You can ask for another in (1 minute|\d+ seconds)\.$/ })
          .waitFor();
        await erinPage.waitForTimeout(500); // the outbox is looked at every 100 ms
        expect((await mailsTo(erin.email)).length === 1, "a second verification mail went out within the minute");
        await screenshotOf(erinPage, banner, "desktop-verify-banner.png");
      });

      await step("at 320 px the banner fits", async () => {
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-verify-banner-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
      });

      let link;
      await step("the mail's link opens the app, confirms the address, and the focus is on the result", async () => {
        ({ link } = await linkInMail(erin.email, "/verify-email", 1));
        const verified = erinPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/email/verify`);
        await erinPage.goto(link);
        expect((await verified).status() === 204, `POST /api/auth/email/verify answered ${(await verified).status()}`);
        const heading = erinPage.getByRole("heading", { name: "Email address confirmed", level: 1 });
        await heading.waitFor();
        await waitFor(() => heading.evaluate((el) => el === document.activeElement), "the result heading has no focus");
        await screenshot(erinPage, "desktop-verify-email.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-verify-email-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
      });

      await step("the banner is gone, after a reload too", async () => {
        await erinPage.getByRole("link", { name: "Go to your tasks" }).click();
        await onTaskScreen(erinPage);
        expect(!(await verifyBanner(erinPage).count()), "the banner is still there");
        await erinPage.reload();
        await onTaskScreen(erinPage);
        expect(!(await verifyBanner(erinPage).count()), "the banner is back after a reload");
      });

      await step("the same link again: already confirmed, nothing more to do", async () => {
        await erinPage.goto(link);
        await erinPage.getByRole("heading", { name: "Email address already confirmed", level: 1 }).waitFor();
        await erinPage.getByRole("link", { name: "Go to your tasks" }).click();
        await onTaskScreen(erinPage);
      });
    },
  },

  {
    name: "forgot password: the mailed link sets a new one, every session ends, the old password is refused",
    needs: [VERIFIED],
    page: () => erinPage,
    async run({ step }) {
      await step("Erin is signed in on her phone too", async () => {
        const context = await browsers.launch(phone);
        erinPhone = browsers.watch(context.pages()[0] ?? (await context.newPage()), "erin-phone");
        await erinPhone.goto(appUrl);
        await erinPhone.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        await signIn(erinPhone, erin);
        await onTaskScreen(erinPhone);
      });

      await step("on the desktop she signs out; Forgot password? takes the email typed at sign-in", async () => {
        await erinPage.getByRole("button", { name: "Sign out" }).click();
        await erinPage.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        await erinPage.getByLabel("Email", { exact: true }).fill(erin.email);
        await screenshot(erinPage, "desktop-signin-forgot-link.png");
        await erinPage.getByRole("link", { name: "Forgot password?" }).click();
        await erinPage.getByRole("heading", { name: "Forgot your password?", level: 1 }).waitFor();
        expect(new URL(erinPage.url()).pathname === "/forgot-password", `the address is ${erinPage.url()}`);
        const field = erinPage.getByLabel("Email", { exact: true });
        expect((await field.inputValue()) === erin.email, `the field holds ${await field.inputValue()}`);
        await screenshot(erinPage, "desktop-forgot-password.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-forgot-password-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
      });

      const nobody = `nobody-${stamp}@example.com`;
      await step("an address with no account gets the same answer, and no mail", async () => {
        const field = erinPage.getByLabel("Email", { exact: true });
        await field.fill(nobody);
        const asked = erinPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/password/reset/request`);
        await erinPage.getByRole("button", { name: "Send reset link" }).click();
        expect((await asked).status() === 202, `the reset request answered ${(await asked).status()}`);
        const heading = erinPage.getByRole("heading", { name: "Check your email", level: 1 });
        await heading.waitFor();
        await waitFor(() => heading.evaluate((el) => el === document.activeElement), "the result heading has no focus");
        const said = await erinPage.getByRole("status").innerText();
        expect(said.includes(`If an account exists for ${nobody}`), `the page says ${JSON.stringify(said)}`);
        await erinPage.getByRole("button", { name: "Use another address" }).click();
      });

      await step("her own address: the same words, and the mail comes", async () => {
        await erinPage.getByLabel("Email", { exact: true }).fill(erin.email);
        await erinPage.getByRole("button", { name: "Send reset link" }).click();
        await erinPage.getByRole("heading", { name: "Check your email", level: 1 }).waitFor();
        const said = await erinPage.getByRole("status").innerText();
        expect(said.includes(`If an account exists for ${erin.email}`), `the page says ${JSON.stringify(said)}`);
        await screenshot(erinPage, "desktop-forgot-password-sent.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-forgot-password-sent-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
        await linkInMail(erin.email, "/reset-password", 2);
        // Mailed in the order asked for: by now the unknown address's would have come.
        expect((await mailsTo(nobody)).length === 0, "a reset mail went to an address with no account");
      });

      let link;
      let resetAt = 0;
      await step("the reset link's page: a too-common password is refused on its field, then a new one is set", async () => {
        ({ link } = await linkInMail(erin.email, "/reset-password", 2));
        await erinPage.goto(link);
        await erinPage.getByRole("heading", { name: "Choose a new password", level: 1 }).waitFor();
        // The served app answers the link's address on a reload too, token and all.
        await erinPage.reload();
        await erinPage.getByRole("heading", { name: "Choose a new password", level: 1 }).waitFor();
        await screenshot(erinPage, "desktop-reset-password.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-reset-password-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
        const pw = erinPage.getByLabel("New password", { exact: true });
        const confirm = erinPage.getByLabel("Confirm new password", { exact: true });
        await pw.fill("password");
        await confirm.fill("password");
        await erinPage.getByRole("button", { name: "Change password" }).click();
        await erinPage.getByRole("alert").filter({ hasText: /too common/ }).waitFor();
        expect((await pw.getAttribute("aria-invalid")) === "true", "the password field is not marked invalid");

        erin.oldPassword = erin.password;
        erin.password = "juniper-comet-ledger-85";
        await pw.fill(erin.password);
        await confirm.fill(erin.password);
        // A fresh token on the phone outlives the wait for the reset to reach the task-service, so
        // what signs the phone out is its ended session, not its token's expiry.
        await erinPhone.reload();
        await onTaskScreen(erinPhone);
        const reset = erinPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/password/reset`);
        await erinPage.getByRole("button", { name: "Change password" }).click();
        expect((await reset).status() === 204, `POST /api/auth/password/reset answered ${(await reset).status()}`);
        resetAt = Date.now();
        const heading = erinPage.getByRole("heading", { name: "Password changed", level: 1 });
        await heading.waitFor();
        await waitFor(() => heading.evaluate((el) => el === document.activeElement), "the result heading has no focus");
        await screenshot(erinPage, "desktop-reset-password-done.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-reset-password-done-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
      });

      await step("her phone is signed out at its next request", async () => {
        const took = await signedOutAtNextRequest(erinPhone, resetAt, SIGNED_OUT_WITHIN_MS);
        console.log(`    # the phone's token was refused ${took} ms after the reset`);
      });

      await step("Sign in: the old password is refused, the new one accepted", async () => {
        await erinPage.getByRole("link", { name: "Sign in" }).click();
        await erinPage.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
        expect(new URL(erinPage.url()).pathname === "/", `the address is ${erinPage.url()}`);
        await signIn(erinPage, { ...erin, password: erin.oldPassword });
        await erinPage.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
        await signIn(erinPage, erin);
        await onTaskScreen(erinPage);
      });

      await step("the used link again: explained, with the way to a new one", async () => {
        await erinPage.goto(link);
        await erinPage.getByLabel("New password", { exact: true }).fill("another-fine-passphrase-7");
        await erinPage.getByLabel("Confirm new password", { exact: true }).fill("another-fine-passphrase-7");
        const refused = erinPage.waitForResponse((r) => r.url() === `${authUrl}/api/auth/password/reset`);
        await erinPage.getByRole("button", { name: "Change password" }).click();
        expect((await refused).status() === 400, `the used link's reset answered ${(await refused).status()}`);
        const heading = erinPage.getByRole("heading", { name: "This link can no longer be used", level: 1 });
        await heading.waitFor();
        await waitFor(() => heading.evaluate((el) => el === document.activeElement), "the result heading has no focus");
        await erinPage.getByRole("alert").filter({ hasText: "expired or was already used" }).waitFor();
        await screenshot(erinPage, "desktop-reset-password-used-link.png");
        try {
          await expectFitsWidth(erinPage, 320, phone.height);
          await screenshot(erinPage, "phone-reset-password-used-link-320.png");
        } finally {
          await erinPage.setViewportSize(desktop);
        }
        await erinPage.getByRole("link", { name: "Ask for a new link" }).click();
        await erinPage.getByRole("heading", { name: "Forgot your password?", level: 1 }).waitFor();
      });

      await step("and the new password still signs in (the used link changed nothing)", async () => {
        await apiSignIn(erin);
      });
    },
  },

  ...secondFactorScenarios({ browsers, desktop, phone, stamp }),

  {
    name: "no script errors in any page",
    async run() {
      expect(browsers.pageErrors.length === 0, `errors:\n${browsers.pageErrors.join("\n")}`);
    },
  },
];

const ok = await runScenarios(scenarios, {
  async setup() {
    server = await serveDist();
    ctx = await browsers.launch(desktop);
    page = browsers.watch(ctx.pages()[0] ?? (await ctx.newPage()), "alice");
  },
  async teardown() {
    await browsers.close();
    server?.close();
  },
});
process.exitCode = ok ? 0 : 1;
