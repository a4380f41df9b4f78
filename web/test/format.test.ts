/** The words the sessions list is made of: devices from User-Agent headers, and relative times;
 * waits in words; the pages the addresses name. */
import { describe, expect, it } from "vitest";
import { pageOf } from "../src/navigation";
import { durationInWords, fullTime, relativeTime } from "../src/time";
import { describeUserAgent } from "../src/userAgent";

describe("describeUserAgent", () => {
  it.each([
    [
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      "Chrome on Linux",
      "computer",
    ],
    [
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.33 Safari/537.36",
      "Chrome on Linux",
      "computer",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.51",
      "Edge on Windows",
      "computer",
    ],
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows", "computer"],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
      "Safari on macOS",
      "computer",
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
      "Safari on iPhone",
      "phone",
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
      "Chrome on iPhone",
      "phone",
    ],
    [
      "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
      "Firefox on iPad",
      "tablet",
    ],
    [
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
      "Chrome on Android",
      "phone",
    ],
    [
      "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
      "Samsung Internet on Android",
      "tablet",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
      "Opera on Windows",
      "computer",
    ],
    [
      "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      "Chrome on ChromeOS",
      "computer",
    ],
  ])("%s → %s", (ua, label, kind) => {
    expect(describeUserAgent(ua)).toEqual({ label, kind });
  });

  it("names a non-browser client by its product, and an absent header as unknown", () => {
    expect(describeUserAgent("curl/8.5.0")).toEqual({ label: "curl", kind: "other" });
    expect(describeUserAgent("node")).toEqual({ label: "node", kind: "other" });
    expect(describeUserAgent(null)).toEqual({ label: "Unknown device", kind: "other" });
    expect(describeUserAgent("   ")).toEqual({ label: "Unknown device", kind: "other" });
    expect(describeUserAgent("Mozilla/5.0 (compatible; SomeBot)")).toEqual({ label: "Unknown browser", kind: "other" });
    expect(describeUserAgent("Mozilla/5.0 (X11; Linux x86_64) Gecko")).toEqual({
      label: "A browser on Linux",
      kind: "computer",
    });
  });

  it("keeps a long garbage header short", () => {
    expect(describeUserAgent("x".repeat(500)).label).toHaveLength(60);
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2026-05-20T12:00:00Z");
  it.each([
    ["2026-05-20T11:59:30Z", "just now"],
    ["2026-05-20T12:00:20Z", "just now"],
    ["2026-05-20T11:55:00Z", "5 minutes ago"],
    ["2026-05-20T09:00:00Z", "3 hours ago"],
    ["2026-05-19T11:00:00Z", "yesterday"],
    ["2026-05-10T12:00:00Z", "10 days ago"],
    ["2026-06-19T12:00:00Z", "in 30 days"],
    ["2026-05-20T13:20:00Z", "in 1 hour"],
    ["2026-05-20T11:20:30Z", "39 minutes ago"],
  ])("%s → %s", (iso, words) => {
    expect(relativeTime(iso, now)).toBe(words);
  });

  it("gives the date itself a month or more away, and nothing for no date", () => {
    expect(relativeTime("2026-01-02T12:00:00Z", now)).toMatch(/^on .*2026/);
    expect(relativeTime(null, now)).toBe("");
    expect(relativeTime("not a date", now)).toBe("");
    expect(fullTime("not a date")).toBe("");
    expect(fullTime("2026-01-02T12:00:00Z")).toMatch(/2026/);
  });
});

describe("durationInWords", () => {
  it.each([
    [0, "1 second"],
    [1, "1 second"],
    [0.2, "1 second"],
    [42, "42 seconds"],
    [59.5, "1 minute"],
    [60, "1 minute"],
    [61, "2 minutes"],
    [90, "2 minutes"],
    [3600, "60 minutes"],
  ])("%s s is %s (never shorter than the wait)", (seconds, words) => {
    expect(durationInWords(seconds)).toBe(words);
  });
});

describe("pageOf", () => {
  it.each([
    ["/", "tasks"],
    ["/account", "account"],
    ["/account/", "account"],
    ["/forgot-password", "forgot-password"],
    ["/reset-password", "reset-password"],
    ["/verify-email", "verify-email"],
    ["/verify-email/", "verify-email"],
    ["/no-such-page", "tasks"],
  ])("%s shows %s", (path, page) => {
    expect(pageOf(path)).toBe(page);
  });
});
