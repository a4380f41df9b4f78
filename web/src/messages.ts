/** Words for the services' stable error codes. The service's own `message` is the fallback, so a
 * code this table does not know yet still reads sensibly. */
import { ApiError, isRefusedToken, NetworkError, type FieldError } from "./api/errors";
import { durationInWords } from "./time";

const FIELD_MESSAGES: Record<string, string> = {
  invalid_email: "Enter a valid email address, like name@example.com.",
  email_taken: "An account with this email already exists.",
  password_too_short: "Use at least 8 characters.",
  password_too_long: "Use at most 128 characters.",
  password_too_common: "This password is too common and easy to guess. Choose another.",
  wrong_password: "That isn't your current password.",
  invalid_code: "That code didn't work. Check the app and enter the code it shows now.",
  invalid_name: "Use at most 64 characters.",
};

/** The password rules as the sign-up form states them (the service's own: 8–128 characters, not
 * a common password), wherever a new password is chosen. */
export const PASSWORD_HELP = "At least 8 characters. Avoid common passwords.";

export function fieldMessage(error: FieldError): string {
  return FIELD_MESSAGES[error.code] ?? error.message ?? "This value is not valid.";
}

export const NETWORK_MESSAGE = "Can't reach the server. Check your connection and try again.";

/** One sentence for an error that has no field to sit next to. */
export function errorMessage(error: unknown, action = "That didn't work"): string {
  if (error instanceof NetworkError) return NETWORK_MESSAGE;
  if (error instanceof ApiError) {
    switch (error.code) {
      case "invalid_credentials":
        return "Wrong email or password.";
      case "rate_limited":
        return error.retryAfter
          ? `Too many attempts. Try again in ${durationInWords(error.retryAfter)}.`
          : "Too many attempts. Wait a moment and try again.";
      case "invalid_token_link":
        return "This link has expired or was already used. Ask for a new one.";
      case "invalid_token":
        return "Your session has ended. Please sign in again.";
      case "not_found":
        return "That task no longer exists.";
      case "not_ready":
        return "The service is starting up or unavailable. Try again in a moment.";
      case "payload_too_large":
        return "That is too long to save.";
      case "email_not_verified":
        return "Confirm your email address first: open the link we sent you. A new one is on its way (at most one a minute).";
      case "totp_already_enabled":
        return "Your authenticator app is already set up.";
      case "totp_not_enabled":
        return "Your authenticator app was already turned off.";
      case "totp_not_pending":
        return "That set-up is no longer under way. Start again.";
    }
    if (error.status >= 500) return `${action}: the server had a problem. Try again in a moment.`;
    if (error.detail) return error.detail;
    return `${action}.`;
  }
  return `${action}.`;
}

/** A session that ended shows the sign-in screen by itself: such a failure needs no words here.
 * (A 401 `invalid_credentials` is a refused password, code or passkey: that needs words.) */
export const sessionEnded = (error: unknown) => error instanceof ApiError && isRefusedToken(error);

/** Splits an ApiError's field errors into the ones a form can place and the rest. */
export function splitFieldErrors(
  error: unknown,
  fields: readonly string[],
): { byField: Record<string, string>; rest: string[] } {
  const byField: Record<string, string> = {};
  const rest: string[] = [];
  if (!(error instanceof ApiError)) return { byField, rest };
  if (error.code === "email_taken" && fields.includes("email") && !error.fieldError("email")) {
    byField.email = FIELD_MESSAGES.email_taken!;
  }
  for (const fe of error.fieldErrors) {
    if (fields.includes(fe.field)) byField[fe.field] ??= fieldMessage(fe);
    else rest.push(fieldMessage(fe));
  }
  return { byField, rest };
}
