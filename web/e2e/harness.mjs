// The end-to-end harness: settings from the environment, a static server for web/dist, Chromium
// profiles, and a runner for named scenarios. Nothing here knows the app; see app.mjs for that.
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, "..");
const distDir = join(webDir, "dist");
export const resultsDir = join(webDir, "test-results");
export const authUrl = (process.env.E2E_AUTH_URL || "http://localhost:8081").replace(/\/+$/, "");
export const tasksUrl = (process.env.E2E_TASKS_URL || "http://localhost:8082").replace(/\/+$/, "");
/** The mail sink (bin/lib/mail-sink.py) the auth-service sends to, serving GET /messages; unset,
 * the scenarios that read mail are skipped. */
export const mailUrl = (process.env.E2E_MAIL_URL || "").replace(/\/+$/, "");
const webPort = Number(process.env.E2E_WEB_PORT || 3000);
export const appUrl = `http://localhost:${webPort}`;
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 15_000);
/** The auth-service's ACCESS_TOKEN_TTL, when the runner shortened it to watch refreshes happen. */
export const accessTtl = Number(process.env.E2E_ACCESS_TOKEN_TTL || 0);

export const screenshot = (page, name, options = {}) => page.screenshot({ path: join(resultsDir, name), ...options });

/** A screenshot of one part of the page (a locator), taken from the whole page so that a sticky
 * header drawn over a scrolled element does not end up in the picture. */
export async function screenshotOf(page, locator, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await locator.boundingBox();
  if (!box) throw new Error(`${name}: nothing to take a picture of`);
  await screenshot(page, name, { fullPage: true, clip: box });
}

// ---- a tiny static server for dist --------------------------------------------------------
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".map": "application/json",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Serves web/dist with the SPA fallback, and /config.json pointing at the services under test. */
export function serveDist() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, appUrl).pathname);
    if (path === "/config.json") {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify({ authUrl, tasksUrl }));
      return;
    }
    let file = normalize(join(distDir, path));
    if (!file.startsWith(distDir)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
    } catch {
      file = join(distDir, "index.html"); // SPA fallback
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(webPort, "localhost", () => ok(server));
  });
}

// ---- Chromium -----------------------------------------------------------------------------
// Debian's chromium (browsers cannot be downloaded here), without the background traffic that
// a test has no use for.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Browser profiles (a person each: own cookies, own tabs) and the script errors seen in them. */
export class Browsers {
  profiles = [];
  contexts = [];
  pageErrors = [];

  async launch(viewport) {
    const dir = mkdtempSync(join(tmpdir(), "web-e2e-profile-"));
    this.profiles.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      timeout: 60_000,
    });
    this.contexts.push(context);
    context.setDefaultTimeout(TIMEOUT);
    return context;
  }

  /** Collects uncaught exceptions and console errors (other than failed requests) under `label`. */
  watch(page, label) {
    page.on("pageerror", (err) => this.pageErrors.push(`${label}: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !/Failed to load resource|net::ERR_/.test(msg.text())) {
        this.pageErrors.push(`${label} console: ${msg.text()}`);
      }
    });
    return page;
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    for (const d of this.profiles) rmSync(d, { recursive: true, force: true });
  }
}

// ---- checks -------------------------------------------------------------------------------
export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

export async function waitFor(fn, message, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${message}${last ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Thrown by a scenario that cannot run here (a reason, not a failure). */
export class Skip extends Error {}

// ---- the runner ---------------------------------------------------------------------------
// Scenarios run in order and share one story (the accounts and tasks made by earlier ones), so
// each names the scenarios it needs; when one of those did not pass, it is skipped rather than
// failed a second time. The others still run, so one failure does not hide the rest.
//
// Output: "ok - <name>" / "not ok - <name>" (with the step and the error) / "skipped - <name>",
// the steps passed as "# ..." comments, and a closing "N passed, N failed" line.
// E2E_ONLY=<regex> runs only the scenarios whose names match (the others are reported skipped).

const slug = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
const indent = (text) => String(text).replace(/^/gm, "    ");

/**
 * @param {{ name: string, needs?: string[], page?: () => import("playwright-core").Page | undefined,
 *           run: (t: { step: (name: string, fn: () => Promise<void>) => Promise<void> }) => Promise<void> }[]} scenarios
 * @param {{ setup: () => Promise<void>, teardown: () => Promise<void> }} hooks
 * @returns {Promise<boolean>} whether every scenario passed (or was skipped for a reason)
 */
export async function runScenarios(scenarios, { setup, teardown }) {
  mkdirSync(resultsDir, { recursive: true });
  for (const f of readdirSync(resultsDir)) {
    if (/^failure.*\.png$/.test(f)) rmSync(join(resultsDir, f), { force: true });
  }
  const outcome = new Map(); // name -> "passed" | "failed" | "skipped"
  const count = { passed: 0, failed: 0, skipped: 0 };
  const record = (name, result) => {
    outcome.set(name, result);
    count[result]++;
  };

  try {
    await setup();
  } catch (err) {
    console.log("not ok - setup");
    console.log(indent(err?.stack || err));
    count.failed++;
  }

  const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY, "i") : null;
  for (const scenario of count.failed ? [] : scenarios) {
    if (only && !only.test(scenario.name)) {
      console.log(`skipped - ${scenario.name} (not matched by E2E_ONLY)`);
      record(scenario.name, "skipped");
      continue;
    }
    const missing = (scenario.needs ?? []).filter((n) => outcome.get(n) !== "passed");
    if (missing.length) {
      console.log(`skipped - ${scenario.name} (needs ${missing.map((n) => `“${n}”`).join(", ")}, which did not pass)`);
      record(scenario.name, "skipped");
      continue;
    }
    let current = "";
    const step = async (name, fn) => {
      current = name;
      await fn();
      console.log(`    # ${name}`);
    };
    try {
      await scenario.run({ step });
      console.log(`ok - ${scenario.name}`);
      record(scenario.name, "passed");
    } catch (err) {
      if (err instanceof Skip) {
        console.log(`skipped - ${scenario.name} (${err.message})`);
        // A scenario that cannot run here has not failed; nothing depends on it being skipped.
        record(scenario.name, "skipped");
        continue;
      }
      console.log(`not ok - ${scenario.name}`);
      if (current) console.log(`    in step: ${current}`);
      console.log(indent(err?.stack || err));
      const page = scenario.page?.();
      if (page && !page.isClosed()) {
        const file = join(resultsDir, `failure-${slug(scenario.name)}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.log(`    (screenshot: ${file})`);
      }
      record(scenario.name, "failed");
    }
  }

  await teardown().catch((err) => console.log(`# teardown: ${err?.message || err}`));
  const skipped = count.skipped ? `, ${count.skipped} skipped` : "";
  console.log(`${count.passed} passed, ${count.failed} failed${skipped}`);
  return count.failed === 0;
}
