/** "Chrome on Linux" from a User-Agent header: enough for a person to recognise their own devices
 * in the sessions list. A few ordered patterns instead of a parsing library: the names a person
 * would know are few, and a wrong guess costs nothing worse than a vaguer label. */

export type DeviceKind = "phone" | "tablet" | "computer" | "other";

export interface DeviceDescription {
  /** "Firefox on Windows", "Safari on iPhone", "curl", "Unknown device". */
  label: string;
  kind: DeviceKind;
}

// Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", iOS says "Mac OS X" and
// Android says "Linux".
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bChromium\//, "Chromium"],
  [/\b(?:Headless)?Chrome\/|\bCriOS\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
];

const SYSTEMS: [RegExp, string, DeviceKind][] = [
  [/\biPhone\b|\biPod\b/, "iPhone", "phone"],
  [/\biPad\b/, "iPad", "tablet"],
  [/\bAndroid\b.*\bMobile\b/, "Android", "phone"],
  [/\bAndroid\b/, "Android", "tablet"],
  [/\bWindows\b/, "Windows", "computer"],
  [/\bCrOS\b/, "ChromeOS", "computer"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS", "computer"],
  [/\bLinux\b|\bX11\b/, "Linux", "computer"],
];

const MAX_LABEL = 60;

export function describeUserAgent(userAgent: string | null | undefined): DeviceDescription {
  const ua = (userAgent ?? "").trim();
  if (!ua) return { label: "Unknown device", kind: "other" };
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(ua));
  if (browser && system) return { label: `${browser} on ${system[1]}`, kind: system[2] };
  if (browser) return { label: browser, kind: "other" };
  if (system) return { label: `A browser on ${system[1]}`, kind: system[2] };
  // Not a browser (curl/8.5.0, okhttp/4.12, node): its product name says enough.
  const product = /^[^\s/]+/.exec(ua)?.[0] ?? ua;
  const label = product === "Mozilla" ? "Unknown browser" : product;
  return { label: label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label, kind: "other" };
}
