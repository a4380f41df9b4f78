/** Times as a person says them: "5 minutes ago", "in 30 days", with the full date for a tooltip. */

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["minute", 60],
  ["hour", 60 * 60],
  ["day", 24 * 60 * 60],
];

const parse = (iso: string | null | undefined) => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

/** "just now", "5 minutes ago", "in 3 hours", "yesterday"; a month or more away, "on 12 Jun 2026". */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  const at = parse(iso);
  if (at === null) return "";
  const seconds = (at - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 60) return "just now";
  if (abs >= 31 * 24 * 60 * 60) return `on ${dayFormat.format(at)}`;
  let unit = UNITS[0]!;
  for (const u of UNITS) if (abs >= u[1]) unit = u;
  return relative.format(Math.round(seconds / unit[1]), unit[0]);
}

/** The full local date and time, for a `title`; "" for a missing or unreadable time. */
export function fullTime(iso: string | null | undefined): string {
  const at = parse(iso);
  return at === null ? "" : fullFormat.format(at);
}

/** A wait as a person says it: "1 second", "42 seconds", "2 minutes" (rounded up: never
 * shorter than the wait). */
export function durationInWords(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const minutes = Math.ceil(s / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
