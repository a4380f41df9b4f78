/** Asking for another verification mail (the banner's "Resend", the verify page's "Send a new
 * link"), and what to say about it: sent, already verified, or wait — the service sends one a
 * minute at most and says how long in Retry-After. */
import { useState } from "react";
import type { EmailClient } from "../api/email";
import { ApiError } from "../api/errors";
import type { SessionManager } from "../api/session";
import { errorMessage, sessionEnded } from "../messages";
import { durationInWords } from "../time";

export interface ResendOutcome {
  /** "sent" and "wait" are news for the polite status region; "error" is an alert. */
  kind: "sent" | "wait" | "error";
  message: string;
}

export function useResendVerification(email: EmailClient, session: Pick<SessionManager, "reloadUser">) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<ResendOutcome | null>(null);

  async function resend(address: string) {
    if (busy) return;
    setBusy(true);
    setOutcome(null);
    try {
      await email.requestVerification();
      // The service sends nothing to an address already verified (in another browser, say), and
      // answers the same: ask who we are, so the banner goes instead of promising a mail.
      const user = await session.reloadUser().catch(() => null);
      setOutcome(
        user?.email_verified
          ? { kind: "sent", message: "Your email address is already confirmed." }
          : { kind: "sent", message: `A new link is on its way to ${address}. It works for 24 hours.` },
      );
    } catch (err) {
      if (sessionEnded(err)) return;
      if (err instanceof ApiError && err.code === "rate_limited") {
        const wait = err.retryAfter ? `in ${durationInWords(err.retryAfter)}` : "in a minute";
        setOutcome({ kind: "wait", message: `A link was sent a moment ago. You can ask for another ${wait}.` });
      } else {
        setOutcome({ kind: "error", message: errorMessage(err, "Could not send a new link") });
      }
    } finally {
      setBusy(false);
    }
  }

  return { resend, busy, outcome };
}
