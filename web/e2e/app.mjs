// Helpers on the app's pages, found the way a person (or a screen reader) finds things: by role,
// label and name.
import { appUrl, authUrl, expect, mailUrl, Skip, tasksUrl, waitFor } from "./harness.mjs";

export const taskList = (page) => page.getByRole("list", { name: "Tasks" });
export const checkbox = (page, title) => taskList(page).getByRole("checkbox", { name: title, exact: true });

export async function visibleTitles(page) {
  const list = taskList(page);
  if (!(await list.count())) return [];
  return list.locator("li .task-title").allInnerTexts();
}

export async function expectTitles(page, expected, message) {
  await waitFor(async () => {
    const titles = await visibleTitles(page);
    return JSON.stringify([...titles].sort()) === JSON.stringify([...expected].sort());
  }, `${message}: expected ${JSON.stringify(expected)}, saw ${JSON.stringify(await visibleTitles(page))}`);
}

export async function onTaskScreen(page) {
  await page.getByRole("heading", { name: "Your tasks", level: 1 }).waitFor();
  await page.getByRole("status").filter({ hasText: "Loading tasks" }).waitFor({ state: "detached" });
}

export async function signUp(page, { name, email, password }) {
  await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Create your account" }).waitFor();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

export async function signIn(page, { email, password }) {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function addTask(page, title, description) {
  const form = page.getByRole("region", { name: "Add a task" });
  await form.getByLabel("Title").fill(title);
  if (description) await form.getByLabel("Description").fill(description);
  const created = page.waitForResponse((r) => r.url() === `${tasksUrl}/api/tasks` && r.request().method() === "POST");
  await form.getByRole("button", { name: "Add task" }).click();
  expect((await created).status() === 201, `POST /api/tasks answered ${(await created).status()}`);
  await checkbox(page, title).waitFor();
}

/** Matches a response to `method` on one task (`/api/tasks/{id}`). */
export const tasksRequest = (method) => (r) =>
  r.url().startsWith(`${tasksUrl}/api/tasks/`) && r.request().method() === method;

/** Signs in straight through the API, as a non-browser client (refresh token in the body). */
export async function apiSignIn({ email, password }) {
  const res = await fetch(`${authUrl}/api/auth/signin`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  expect(res.status === 200, `API sign-in answered ${res.status}`);
  const { access_token: token } = await res.json();
  return token;
}

/** Signs in and straight out again through the API, as a non-browser client would: two events
 * (signin, signout) in the account's security activity. */
export async function apiSignInAndOut({ email, password }) {
  const res = await fetch(`${authUrl}/api/auth/signin`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  expect(res.status === 200, `API sign-in answered ${res.status}`);
  const { refresh_token: refreshToken } = await res.json();
  const out = await fetch(`${authUrl}/api/auth/signout`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  expect(out.status === 204, `API sign-out answered ${out.status}`);
}

/** At `width` px, nothing on the page is wider than the screen and nothing scrolls sideways. The
 * viewport stays at that width (the caller puts it back). */
export async function expectFitsWidth(page, width, height) {
  await page.setViewportSize({ width, height });
  await page.waitForTimeout(150);
  const sticking = await page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().width > 1 && el.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`),
  );
  expect(sticking.length === 0, `at ${width} px these stick out: ${sticking.join(", ")}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 0, `the page scrolls sideways by ${overflow}px at ${width} px`);
}

// ---- the Account page ---------------------------------------------------------------------

export const sessionList = (page) => page.getByRole("list", { name: "Sessions" });
export const sessionItems = (page) => sessionList(page).getByRole("listitem");
export const thisDevice = (page) => sessionItems(page).filter({ hasText: "This device" });
export const otherSessions = (page) => sessionItems(page).filter({ hasNotText: "This device" });

/** Opens the Account page from the header's link, and waits for the sessions list. */
export async function openAccount(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
  await page.getByRole("heading", { name: "Account", level: 1 }).waitFor();
  await sessionList(page).waitFor();
}

/** Back to the task list from the header's link. */
export async function openTasks(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Your tasks" }).click();
  await onTaskScreen(page);
}

/** Waits until the list shows `count` sessions. */
export async function expectSessionCount(page, count, message) {
  await waitFor(
    async () => (await sessionItems(page).count()) === count && !(await sessionList(page).getAttribute("aria-busy")),
    `${message}: expected ${count} sessions, saw ${await sessionItems(page).count()}`,
  );
}

/**
 * A page on the task list whose session was ended elsewhere (at `since`, ms): it keeps making
 * requests (the list under another filter) until the task-service refuses its access token and
 * the app, its refresh refused too, shows the sign-in form saying the session ended. Fails after
 * `withinMs`, or when the sign-in form came without the task-service refusing the token (an
 * expired token's refused refresh proves nothing about the token). Resolves to how long the
 * token was still accepted.
 */
export async function signedOutAtNextRequest(page, since, withinMs) {
  const signInForm = page.getByRole("heading", { name: "Sign in", level: 1 });
  const filters = page.getByRole("group", { name: "Show" });
  let refusedAt = 0;
  const watch = (r) => {
    if (!refusedAt && r.url().startsWith(`${tasksUrl}/`) && r.status() === 401) refusedAt = Date.now();
  };
  page.on("response", watch);
  try {
    for (let flip = true; !(await signInForm.isVisible()); flip = !flip) {
      const elapsed = Date.now() - since;
      expect(elapsed <= withinMs, `still signed in ${elapsed} ms after its session was ended`);
      // The form may take the list's place at any moment: a failed click is only a missed poll.
      await filters
        .getByRole("radio", { name: flip ? "Pending" : "All" })
        .check({ timeout: 1_000 })
        .catch(() => {});
      await page.waitForTimeout(400);
    }
    await page.getByText("Your session has ended. Please sign in again.").waitFor();
  } finally {
    page.off("response", watch);
  }
  expect(refusedAt, "signed out, but no request was refused by the task-service (a refresh was refused first)");
  return refusedAt - since;
}

// ---- Security activity (on the Account page) ----------------------------------------------

export const activityCard = (page) => page.getByRole("region", { name: "Security activity" });
export const eventItems = (page) => activityCard(page).getByRole("list", { name: "Security events" }).getByRole("listitem");

/** The labels of the events on show, newest first ("Signed in", "Failed sign-in attempt, Failed"). */
export const eventLabels = (page) => eventItems(page).locator(".event-label").allTextContents();

// ---- mail (the sink bin/test-web starts) ----------------------------------------------------

/** The messages the sink received for `address`, oldest first: `{ to, subject, text, links }`. */
export async function mailsTo(address) {
  if (!mailUrl) throw new Skip("no mail sink (E2E_MAIL_URL is not set)");
  const res = await fetch(`${mailUrl}/messages`);
  expect(res.ok, `the mail sink answered ${res.status}`);
  const all = await res.json();
  return all.filter((m) => m.to.some((to) => to.toLowerCase() === address.toLowerCase()));
}

/**
 * Waits for mail number `n` (counting from 1) to `address` and returns the link in it to the
 * app's `path` (/verify-email, /reset-password), checked to point at the app under test.
 */
export async function linkInMail(address, path, n) {
  const mail = await waitFor(async () => (await mailsTo(address))[n - 1], `mail ${n} to ${address} did not come`);
  const links = mail.links.filter((l) => new URL(l).pathname === path);
  expect(links.length === 1, `mail “${mail.subject}” has ${links.length} links to ${path}: ${JSON.stringify(mail.links)}`);
  const link = new URL(links[0]);
  expect(link.origin === appUrl, `the link points at ${link.origin}, not the app at ${appUrl}`);
  expect(/^[\w-]{40,}$/.test(link.searchParams.get("token") ?? ""), `the link's token looks wrong: ${link}`);
  return { link: link.href, mail };
}

// ---- email verification and password reset -------------------------------------------------

export const verifyBanner = (page) => page.getByRole("region", { name: "Confirm your email address" });
