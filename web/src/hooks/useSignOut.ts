/** Signing out from the task screen: the button's busy state and why it failed, if it did. */
import { useState } from "react";
import { NetworkError } from "../api/errors";
import type { SessionManager } from "../api/session";
import { errorMessage } from "../messages";

export function useSignOut(session: SessionManager) {
  const [signingOut, setSigningOut] = useState(false);
  const [error, setError] = useState("");

  async function signOut() {
    setSigningOut(true);
    setError("");
    try {
      // Success: App swaps the task screen for the sign-in form.
      await session.signOut();
    } catch (err) {
      setSigningOut(false);
      // The session lives on at the service, so the person must not think they are signed out.
      setError(
        err instanceof NetworkError
          ? "Could not sign out: the server can't be reached. You are still signed in."
          : errorMessage(err, "Could not sign out"),
      );
    }
  }

  return { signOut, signingOut, error };
}
