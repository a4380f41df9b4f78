/** The Account page's passkeys: the list as the auth-service last said, adding one on this device
 * and removing one. Words for what happened are the screen's; this hook keeps the data, and why
 * an action failed (a cancelled browser prompt is no failure: it says so in `note`). */
import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api/errors";
import type { Passkey, PasskeysClient } from "../api/passkeys";
import { alreadyRegistered, ceremonyCancelled } from "../api/webauthn";
import { errorMessage, sessionEnded, splitFieldErrors } from "../messages";

export type PasskeysStatus = "loading" | "refreshing" | "ready" | "error";

/** `pending` while a passkey is being added (otherwise it holds the id of one being removed). */
export const ADDING = "adding";

interface Loaded {
  key: number;
  passkeys: Passkey[];
  error: string;
}

/** Why adding a passkey did not happen, in words; "" when the person stopped it themselves. */
function addFailure(err: unknown): string {
  if (ceremonyCancelled(err)) return "";
  if (alreadyRegistered(err) || (err instanceof ApiError && err.code === "passkey_exists")) {
    return "This device already has a passkey for your account.";
  }
  if (err instanceof ApiError && err.code === "invalid_credentials") {
    return "The passkey could not be checked, so it was not added. Try again.";
  }
  if (err instanceof DOMException) return "This browser could not make a passkey. Try again, or use another device.";
  return errorMessage(err, "Could not add the passkey");
}

export function usePasskeys(passkeys: PasskeysClient) {
  const [key, setKey] = useState(0);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [actionError, setActionError] = useState("");
  /** Why the name typed for a new passkey was refused (too long). */
  const [nameError, setNameError] = useState("");
  /** A quiet word (not an error): the browser's prompt was closed. */
  const [note, setNote] = useState("");

  useEffect(() => {
    const controller = new AbortController();
    passkeys.list(controller.signal).then(
      (items) => {
        if (!controller.signal.aborted) setLoaded({ key, passkeys: items, error: "" });
      },
      (err: unknown) => {
        if (controller.signal.aborted || sessionEnded(err)) return;
        setLoaded({ key, passkeys: [], error: errorMessage(err, "Could not load your passkeys") });
      },
    );
    return () => controller.abort();
  }, [passkeys, key]);

  const status: PasskeysStatus =
    loaded?.key === key ? (loaded.error ? "error" : "ready") : loaded && !loaded.error ? "refreshing" : "loading";

  const reload = useCallback(() => setKey((k) => k + 1), []);

  /** Resolves to the new passkey, or null (actionError or note says why not). */
  async function add(name: string): Promise<Passkey | null> {
    setPending(ADDING);
    setActionError("");
    setNameError("");
    setNote("");
    try {
      const added = await passkeys.add(name);
      setLoaded((l) => l && { ...l, passkeys: [...l.passkeys.filter((p) => p.id !== added.id), added] });
      return added;
    } catch (err) {
      if (sessionEnded(err)) return null;
      const { byField } = splitFieldErrors(err, ["name"]);
      if (byField.name) {
        setNameError(byField.name);
        return null;
      }
      const why = addFailure(err);
      if (why) setActionError(why);
      else setNote("Adding a passkey was cancelled.");
      return null;
    } finally {
      setPending(null);
    }
  }

  /** Resolves to whether the passkey is gone. */
  async function remove(target: Passkey): Promise<boolean> {
    setPending(target.id);
    setActionError("");
    setNote("");
    try {
      await passkeys.remove(target.id);
      setLoaded((l) => l && { ...l, passkeys: l.passkeys.filter((p) => p.id !== target.id) });
      return true;
    } catch (err) {
      if (!sessionEnded(err)) setActionError(errorMessage(err, "Could not remove the passkey"));
      return false;
    } finally {
      setPending(null);
    }
  }

  return {
    status,
    passkeys: status === "error" ? [] : (loaded?.passkeys ?? []),
    error: status === "error" ? (loaded?.error ?? "") : "",
    /** ADDING, the id of a passkey being removed, or null. */
    pending,
    reload,
    add,
    remove,
    actionError,
    nameError,
    note,
    dismissActionError: () => setActionError(""),
  };
}
