/** The words the Security activity list is made of: a label per event type, and which are marked. */
import { describe, expect, it } from "vitest";
import { describeEvent } from "../src/securityEvents";

describe("describeEvent", () => {
  it.each([
    ["signup", "Account created"],
    ["signin", "Signed in"],
    ["signout", "Signed out"],
    ["session_ended", "Session signed out"],
    ["password_changed", "Password changed"],
    ["password_reset", "Password reset by email"],
    ["email_verified", "Email address verified"],
    ["mfa_enabled", "Two-step verification turned on"],
    ["mfa_disabled", "Two-step verification turned off"],
    ["passkey_added", "Passkey added"],
    ["passkey_removed", "Passkey removed"],
  ])("%s is “%s”, not marked", (type, label) => {
    expect(describeEvent(type)).toEqual({ label, flag: null });
  });

  it("marks a failed sign-in as failed and refresh-token reuse as suspicious", () => {
    expect(describeEvent("signin_failed")).toEqual({ label: "Failed sign-in attempt", flag: "failed" });
    expect(describeEvent("refresh_reuse_detected")).toEqual({
      label: "Suspicious refresh token reuse — session ended",
      flag: "suspicious",
    });
  });

  it.each(["webauthn_something_new", "", "SIGNIN", "constructor", "__proto__", "toString", "hasOwnProperty"])(
    "a type it does not know (%j) gets the generic label",
    (type) => {
      expect(describeEvent(type)).toEqual({ label: "Other account activity", flag: null });
    },
  );
});
