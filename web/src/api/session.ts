/**
 * The browser side of authentication: who is signed in, and a valid access token for every call.
 *
 * - The access token lives in this object's memory only. The refresh token never reaches script:
 *   every auth call sends `X-Refresh-Token-Transport: cookie`, so the auth-service keeps it in an
 *   HttpOnly cookie (Path=/api/auth) and answers `"refresh_token": null`.
 * - Tokens are refreshed shortly before they expire (a timer, and a check before each request),
 *   and a request answered 401 is retried once after a refresh.
 * - Refreshes are single-flight: concurrent callers in one tab share one promise, and tabs take a
 *   Web Lock (`navigator.locks`) around the refresh so two tabs never present the same refresh token
 *   (the auth-service rotates it and treats reuse after its grace window as theft, revoking the
 *   session). A tab that refreshed tells the others over a BroadcastChannel, so a tab that was
 *   waiting for the lock picks up the new access token instead of refreshing again.
 */
import { ApiError, isRefusedToken, NetworkError, problemFromResponse, readJson, safeFetch } from "./errors";

export interface User {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
  /** Whether the person followed the verification mail's link. Missing from an auth-service that
   * predates verification: then nothing is asked of them. */
  email_verified?: boolean;
  /** Whether sign-in with a password asks for an authenticator app's code too. Missing from an
   * auth-service that predates second factors: then the Account page offers no set-up. */
  totp_enabled?: boolean;
}

/**
 * The password was right, and the account asks for a second step: a code from the authenticator
 * app or a recovery code, sent with `mfaToken` to `signInWithCode`. The token is short-lived
 * (five minutes) and good for a few tries.
 */
export class MfaRequiredError extends ApiError {
  readonly mfaToken: string;

  constructor(error: ApiError, mfaToken: string) {
    super(error.status, error.problem, error.retryAfter);
    this.name = "MfaRequiredError";
    this.mfaToken = mfaToken;
  }
}

export interface SessionResponse {
  user?: User;
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string | null;
}

/** Why there is no session: signed out on purpose, ended elsewhere (a refused refresh), or the
 * account was deleted. */
export type SignedOutReason = "signed-out" | "expired" | "deleted";

export type AuthState =
  | { status: "signed-out"; reason?: SignedOutReason }
  | { status: "signed-in"; user: User };

/** The part of `navigator.locks` we use. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The part of `BroadcastChannel` we use. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  close(): void;
}

export interface SessionOptions {
  authUrl: string;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** `null` disables cross-tab locking (single-flight within the tab still holds). */
  locks?: LockManagerLike | null;
  /** `null` disables cross-tab messages. */
  channel?: ChannelLike | null;
  /** Refresh this long before expiry; default min(60 s, a tenth of the lifetime). */
  refreshMarginMs?: (expiresInMs: number) => number;
}

type Message =
  | { type: "session"; accessToken: string; expiresAt: number; user: User | null }
  | { type: "signed-out"; reason?: "deleted" }
  | { type: "user"; user: User };

export const LOCK_NAME = "tasks-auth-refresh";
export const CHANNEL_NAME = "tasks-auth";
const TRANSPORT_HEADER = { "X-Refresh-Token-Transport": "cookie" } as const;

const defaultMargin = (expiresInMs: number) => Math.min(60_000, expiresInMs / 10);

export class SessionManager {
  private readonly authUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly locks: LockManagerLike | null;
  private readonly channel: ChannelLike | null;
  private readonly marginFor: (expiresInMs: number) => number;

  private accessToken: string | null = null;
  private expiresAt = 0;
  private refreshAt = 0;
  private user: User | null = null;
  private state: AuthState = { status: "signed-out" };
  private inflight: Promise<string> | null = null;
  private restoring: Promise<AuthState> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped whenever the session is replaced or dropped, so a late refresh result is ignored. */
  private generation = 0;
  private readonly listeners = new Set<(state: AuthState) => void>();

  constructor(options: SessionOptions) {
    this.authUrl = options.authUrl.replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.now = options.now ?? Date.now;
    this.locks =
      options.locks !== undefined
        ? options.locks
        : typeof navigator !== "undefined" && navigator.locks
          ? (navigator.locks as unknown as LockManagerLike)
          : null;
    this.channel =
      options.channel !== undefined
        ? options.channel
        : typeof BroadcastChannel !== "undefined"
          ? new BroadcastChannel(CHANNEL_NAME)
          : null;
    this.marginFor = options.refreshMarginMs ?? defaultMargin;
    this.channel?.addEventListener("message", (event) => this.onMessage(event.data as Message));
  }

  // ---- state -------------------------------------------------------------------------------

  get current(): AuthState {
    return this.state;
  }

  subscribe(listener: (state: AuthState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(state: AuthState) {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  private adopt(accessToken: string, expiresAt: number, user: User | null) {
    this.accessToken = accessToken;
    this.expiresAt = expiresAt;
    const lifetime = Math.max(0, expiresAt - this.now());
    this.refreshAt = expiresAt - this.marginFor(lifetime);
    if (user) this.user = user;
    this.schedule();
    if (this.user && (this.state.status !== "signed-in" || this.state.user !== this.user)) {
      this.setState({ status: "signed-in", user: this.user });
    }
  }

  private adoptResponse(body: SessionResponse): string {
    this.adopt(body.access_token, this.now() + body.expires_in * 1000, body.user ?? null);
    return body.access_token;
  }

  private clear(reason: SignedOutReason) {
    this.generation++;
    this.accessToken = null;
    this.expiresAt = 0;
    this.refreshAt = 0;
    this.user = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.state.status !== "signed-out" || this.state.reason !== reason) {
      this.setState({ status: "signed-out", reason });
    }
  }

  private schedule() {
    if (this.timer !== null) clearTimeout(this.timer);
    const delay = Math.max(0, this.refreshAt - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      // Errors end up in state (401 signs out) or are retried on the next request (network).
      this.refresh().catch(() => undefined);
    }, delay);
  }

  private broadcast(message: Message) {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel (page unloading) is not worth failing a sign-in for.
    }
  }

  private onMessage(message: Message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "user") {
      // The same person, newer facts (an address verified in another tab).
      if (this.user && message.user.id === this.user.id) this.setUser(message.user);
    } else if (message.type === "signed-out") {
      this.clear(message.reason === "deleted" ? "deleted" : "signed-out");
    } else if (message.type === "session") {
      // Another tab signed in or refreshed: the cookie jar already holds its refresh token, so
      // use its access token rather than refreshing (and rotating) again.
      const user = message.user ?? this.user;
      // Without a user (the other tab is itself restoring) the token is only of use to a tab
      // that is waiting to refresh; a signed-out tab keeps no token it cannot name an owner for.
      if (!user && !this.inflight) return;
      if (user && this.user && user.id !== this.user.id) this.generation++;
      if (message.expiresAt >= this.expiresAt || (user && user.id !== this.user?.id)) {
        this.adopt(message.accessToken, message.expiresAt, user);
      }
    }
  }

  private isFresh(): boolean {
    return this.accessToken !== null && this.now() < this.refreshAt;
  }

  // ---- auth-service calls ------------------------------------------------------------------

  private post(path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { ...TRANSPORT_HEADER, Accept: "application/json" };
    const init: RequestInit = { method: "POST", credentials: "include", headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return safeFetch(this.fetchFn, `${this.authUrl}${path}`, init);
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.locks ? this.locks.request(LOCK_NAME, fn) : fn();
  }

  async signUp(input: { email: string; password: string; name?: string }): Promise<User> {
    const body: Record<string, string> = { email: input.email, password: input.password };
    if (input.name && input.name.trim() !== "") body.name = input.name.trim();
    return this.startSession("/api/auth/signup", body);
  }

  /** Throws `MfaRequiredError` when the account has an authenticator app: see `signInWithCode`. */
  async signIn(input: { email: string; password: string }): Promise<User> {
    return this.startSession("/api/auth/signin", { email: input.email, password: input.password });
  }

  /**
   * The second step of a sign-in that answered `MfaRequiredError`: its token and a 6-digit code
   * from the authenticator app, or a recovery code. A wrong code is a 401 `invalid_credentials`
   * (the token stays good for a few more tries); a token that expired or was used up a 401
   * `invalid_token` (start again with the password).
   */
  async signInWithCode(input: { mfaToken: string; code: string }): Promise<User> {
    return this.startSession("/api/auth/signin/mfa", { mfa_token: input.mfaToken, code: input.code });
  }

  /** The last step of a passkey sign-in (`PasskeysClient.signIn` runs the ceremony before it):
   * the signed challenge traded for a session. A refused one is a 401 `invalid_credentials`. */
  async signInWithPasskey(input: { challengeId: string; credential: unknown }): Promise<User> {
    return this.startSession("/api/auth/passkeys/signin/finish", {
      challenge_id: input.challengeId,
      credential: input.credential,
    });
  }

  private async startSession(path: string, body: unknown): Promise<User> {
    // Under the lock: a sign-in replaces the cookie, which must not race another tab's refresh.
    return this.withLock(async () => {
      const res = await this.post(path, body);
      if (res.status === 403) {
        const error = await problemFromResponse(res);
        const token = error.problem.mfa_token;
        if (error.code === "mfa_required" && typeof token === "string") throw new MfaRequiredError(error, token);
        throw error;
      }
      const session = await readJson<SessionResponse>(res);
      if (!session.user) throw new ApiError(502, { title: "The auth-service sent no user" });
      this.generation++;
      this.user = null;
      this.adoptResponse(session);
      this.broadcast({
        type: "session",
        accessToken: session.access_token,
        expiresAt: this.expiresAt,
        user: session.user,
      });
      return session.user;
    });
  }

  /**
   * Revokes the session at the auth-service (the cookie names it) and forgets the access token,
   * here and in every other tab. If the service cannot be reached the person stays signed in and
   * the NetworkError is thrown: saying "signed out" while the session lives on would be a lie.
   */
  async signOut(): Promise<void> {
    await this.withLock(async () => {
      const res = await this.post("/api/auth/signout");
      // 204 normally; any other answer is nothing a person can fix, and the local session goes.
      await res.body?.cancel().catch(() => undefined);
      // Cleared inside the lock, so a refresh queued behind us sees the new generation.
      this.clear("signed-out");
      this.broadcast({ type: "signed-out" });
    });
  }

  /**
   * The account was deleted at the auth-service, and its sessions with it: forget the token here
   * and in every other tab, which then say why. Nothing is sent (there is nothing left to revoke).
   */
  accountDeleted(): void {
    this.clear("deleted");
    this.broadcast({ type: "signed-out", reason: "deleted" });
  }

  /**
   * Asks the auth-service again who is signed in (after something changed the user, such as a
   * verified address) and tells the other tabs. Signed out, or signed in as someone else by the
   * time the answer comes, it changes nothing. Resolves to the user on show afterwards.
   */
  async reloadUser(): Promise<User | null> {
    if (!this.user) return null;
    const generation = this.generation;
    const res = await this.authorizedFetch(`${this.authUrl}/api/auth/me`, { credentials: "include" });
    const user = await readJson<User>(res);
    if (generation === this.generation && this.user && user.id === this.user.id) {
      this.setUser(user);
      this.broadcast({ type: "user", user });
    }
    return this.user;
  }

  private setUser(user: User) {
    this.user = user;
    if (this.state.status === "signed-in") this.setState({ status: "signed-in", user });
  }

  /**
   * On page load: trade the refresh cookie for an access token, then ask who we are.
   * Resolves to the state; throws NetworkError (or a 5xx ApiError) when that cannot be decided.
   */
  restore(): Promise<AuthState> {
    // Single-flight too: React's StrictMode (and a Retry button pressed twice) may ask at once.
    this.restoring ??= this.doRestore().finally(() => {
      this.restoring = null;
    });
    return this.restoring;
  }

  private async doRestore(): Promise<AuthState> {
    try {
      await this.refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return this.state;
      throw err;
    }
    if (!this.user) {
      const res = await this.authorizedFetch(`${this.authUrl}/api/auth/me`, {
        credentials: "include",
      });
      const user = await readJson<User>(res);
      this.user = user;
      this.setState({ status: "signed-in", user });
    }
    return this.state;
  }

  /**
   * A new access token from the refresh cookie. Single-flight: concurrent calls share one
   * request, and across tabs the Web Lock serialises them. `staleToken` is the token a caller saw
   * refused; if the token changed meanwhile (another caller or tab refreshed) it is used as is.
   */
  refresh(staleToken?: string | null): Promise<string> {
    if (this.inflight) return this.inflight;
    const generation = this.generation;
    const startedWith = staleToken !== undefined ? staleToken : this.accessToken;
    const run = this.withLock(async () => {
      if (this.accessToken && this.accessToken !== startedWith && this.isFresh()) {
        return this.accessToken;
      }
      const res = await this.post("/api/auth/refresh");
      if (res.status === 401) {
        const error = await problemFromResponse(res);
        if (generation === this.generation) this.clear(this.user ? "expired" : "signed-out");
        throw error;
      }
      const session = await readJson<SessionResponse>(res);
      if (generation !== this.generation) {
        // Signed out or replaced while we waited: this token belongs to no one we serve.
        throw new ApiError(401, { code: "invalid_token", title: "Session changed" });
      }
      const token = this.adoptResponse(session);
      this.broadcast({ type: "session", accessToken: token, expiresAt: this.expiresAt, user: this.user });
      return token;
    });
    const shared = run.finally(() => {
      if (this.inflight === shared) this.inflight = null;
    });
    this.inflight = shared;
    return shared;
  }

  /** A token good for at least the refresh margin, refreshing first if needed. */
  async getAccessToken(): Promise<string> {
    if (this.accessToken && this.isFresh()) return this.accessToken;
    return this.refresh();
  }

  /**
   * fetch() with the bearer token. A 401 that refuses the token is retried once after a refresh;
   * a second 401 is returned to the caller (the service refuses a fresh token: nothing more to
   * try). A 401 `invalid_credentials` (a wrong code, a passkey not accepted) is the caller's: the
   * token was fine, and a refresh would only rotate the refresh token.
   */
  async authorizedFetch(url: string, init: RequestInit = {}): Promise<Response> {
    const send = (token: string) => {
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${token}`);
      return safeFetch(this.fetchFn, url, { ...init, headers });
    };
    const token = await this.getAccessToken();
    const res = await send(token);
    if (res.status !== 401) return res;
    if (!isRefusedToken(await problemFromResponse(res.clone()))) return res;
    await res.body?.cancel().catch(() => undefined);
    const fresh = await this.refresh(token);
    return send(fresh);
  }

  /** Stops the timer and the channel (tests, hot reload). */
  dispose() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.channel?.close();
    this.listeners.clear();
  }
}

export { ApiError, NetworkError };
