/** Words for the auth-service's security events ("Signed in", "Failed sign-in attempt"), and
 * which of them deserve a second look. The service adds event types as features land (API.md
 * lists them ahead of the features), so a type this table does not know yet gets a generic
 * label rather than breaking the page. */

/** "failed": an attempt that did not succeed; "suspicious": the service saw something wrong and
 * acted on it. Both are marked in the list with words, not colour alone. */
export type EventFlag = "failed" | "suspicious";

export interface EventDescription {
  label: string;
  flag: EventFlag | null;
}

// A Map, not an object literal: a type such as "constructor" must not find Object.prototype's.
const EVENTS = new Map<string, EventDescription>([
  ["signup", { label: "Account created", flag: null }],
  ["signin", { label: "Signed in", flag: null }],
  ["signin_failed", { label: "Failed sign-in attempt", flag: "failed" }],
  ["signout", { label: "Signed out", flag: null }],
  ["session_ended", { label: "Session signed out", flag: null }],
  ["refresh_reuse_detected", { label: "Suspicious refresh token reuse — session ended", flag: "suspicious" }],
  ["password_changed", { label: "Password changed", flag: null }],
  ["password_reset", { label: "Password reset by email", flag: null }],
  ["email_verified", { label: "Email address verified", flag: null }],
  ["mfa_enabled", { label: "Two-step verification turned on", flag: null }],
  ["mfa_disabled", { label: "Two-step verification turned off", flag: null }],
  ["passkey_added", { label: "Passkey added", flag: null }],
  ["passkey_removed", { label: "Passkey removed", flag: null }],
]);

const OTHER: EventDescription = { label: "Other account activity", flag: null };

export function describeEvent(type: string): EventDescription {
  return EVENTS.get(type) ?? OTHER;
}

/** The badge's word for a flag. */
export const FLAG_TEXT: Record<EventFlag, string> = { failed: "Failed", suspicious: "Suspicious" };
