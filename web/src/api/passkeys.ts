/** The auth-service's passkey routes: the signed-in person's passkeys (list, add, remove, with the
 * bearer token), and signing in with one (no credentials until the session is made). Each
 * ceremony is a challenge from the service, the browser's prompt (`WebAuthn`), and the answer
 * sent back with the challenge's id. */
import { problemFromResponse, readJson, safeFetch } from "./errors";
import type { SessionManager, User } from "./session";
import type { WebAuthn } from "./webauthn";

/** One passkey of the account. Times are RFC 3339. */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

interface Challenge<T> {
  challenge_id: string;
  publicKey: T;
}

type Session = Pick<SessionManager, "authorizedFetch" | "signInWithPasskey">;

export class PasskeysClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(
    authUrl: string,
    private readonly session: Session,
    readonly webauthn: WebAuthn,
    fetchFn?: typeof fetch,
  ) {
    this.baseUrl = authUrl.replace(/\/+$/, "");
    this.fetchFn = fetchFn ?? ((...args) => globalThis.fetch(...args));
  }

  private call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    return this.session.authorizedFetch(`${this.baseUrl}${path}`, { ...init, headers, credentials: "include" });
  }

  /** The person's passkeys. */
  async list(signal?: AbortSignal): Promise<Passkey[]> {
    return readJson<Passkey[]>(await this.call("/api/auth/passkeys", signal ? { signal } : {}));
  }

  /**
   * Makes a passkey on this device (the browser asks the person) and registers it under `name`
   * (the service names it when none is given). The browser's refusals pass through as they come
   * (see `ceremonyCancelled`, `alreadyRegistered`); a registration the service does not accept is
   * a 401 `invalid_credentials`.
   */
  async add(name?: string): Promise<Passkey> {
    const start = await readJson<Challenge<PublicKeyCredentialCreationOptionsJSON>>(
      await this.call("/api/auth/passkeys/register/start", { method: "POST" }),
    );
    const credential = await this.webauthn.create(start.publicKey);
    const body: Record<string, unknown> = { challenge_id: start.challenge_id, credential };
    if (name && name.trim() !== "") body.name = name.trim();
    return readJson<Passkey>(
      await this.call("/api/auth/passkeys/register/finish", { method: "POST", body: JSON.stringify(body) }),
    );
  }

  /** Removes a passkey. One already gone (another tab removed it) is what was asked for. */
  async remove(id: string): Promise<void> {
    const res = await this.call(`/api/auth/passkeys/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (res.status === 404 || res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    throw await problemFromResponse(res);
  }

  /**
   * Signs in with a passkey the person picks in the browser's prompt (discoverable credentials:
   * no email asked first). The challenge is asked for without credentials; the session is made
   * by `SessionManager.signInWithPasskey`, like any other sign-in (refresh token in the cookie).
   */
  async signIn(): Promise<User> {
    const res = await safeFetch(this.fetchFn, `${this.baseUrl}/api/auth/passkeys/signin/start`, {
      method: "POST",
      credentials: "omit",
      headers: { Accept: "application/json" },
    });
    const start = await readJson<Challenge<PublicKeyCredentialRequestOptionsJSON>>(res);
    const credential = await this.webauthn.get(start.publicKey);
    return this.session.signInWithPasskey({ challengeId: start.challenge_id, credential });
  }
}
