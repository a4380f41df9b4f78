#!/usr/bin/env node
// The services' /docs pages (Swagger UI) in real Chromium, under the Content-Security-Policy the
// services send with them (shared/src/http/headers.rs): the page renders, an operation runs from
// "Try it out", and the browser reports no CSP violation. A Swagger UI upgrade that needs more
// than the policy allows fails here, not in a developer's browser.
//
// bin/test-web runs it after the app's scenarios, against the same services:
//   E2E_AUTH_URL=... E2E_TASKS_URL=... node e2e/docs.mjs
import { authUrl, Browsers, expect, runScenarios, screenshot, tasksUrl, waitFor } from "./harness.mjs";

const browsers = new Browsers();
let ctx;
let page;

/** Opens `base`/docs/, runs GET /healthz through "Try it out", and returns the CSP violations. */
async function docsRun(base, service, step) {
  page = await ctx.newPage();
  const violations = [];
  await page.exposeFunction("__reportCspViolation", (v) => violations.push(v));
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`),
    ),
  );
  browsers.watch(page, `${service} /docs`);

  await step("the page is served with the docs policy", async () => {
    const res = await page.goto(`${base}/docs/`);
    const csp = res?.headers()["content-security-policy"] ?? "";
    expect(csp.includes("script-src 'self'"), `unexpected Content-Security-Policy: ${csp}`);
  });
  await step("Swagger UI renders the service's document", async () => {
    const title = await page.locator(".swagger-ui .info .title").first().textContent();
    expect(title.includes(service), `title is ${title}`);
    expect((await page.locator(".opblock").count()) > 0, "no operation listed");
  });
  await step("Try it out: GET /healthz answers 200 from the page", async () => {
    const op = page.locator(".opblock", { hasText: "/healthz" }).first();
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table tbody .response-col_status").first();
    await waitFor(async () => (await status.textContent())?.trim() === "200", "no 200 from the page's request");
    await screenshot(page, `docs-${service}.png`);
  });
  await step("no Content-Security-Policy violation", async () => {
    expect(violations.length === 0, `violations:\n${violations.join("\n")}`);
    const errors = browsers.pageErrors.filter((e) => e.startsWith(`${service} /docs`));
    expect(errors.length === 0, `script errors:\n${errors.join("\n")}`);
  });
  await page.close();
}

const scenarios = [
  {
    name: "the auth-service's /docs page works under its CSP",
    page: () => page,
    run: ({ step }) => docsRun(authUrl, "auth-service", step),
  },
  {
    name: "the task-service's /docs page works under its CSP",
    page: () => page,
    run: ({ step }) => docsRun(tasksUrl, "task-service", step),
  },
];

const ok = await runScenarios(scenarios, {
  async setup() {
    ctx = await browsers.launch({ width: 1280, height: 860 });
  },
  async teardown() {
    await browsers.close();
  },
});
process.exitCode = ok ? 0 : 1;
