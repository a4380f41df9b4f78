/** A fake auth-service and task-service behind one fetch(), with a shared cookie jar, for
 * exercising the token logic without a network. */
import type { SecurityEvent, SessionInfo } from "../src/api/account";
import { MfaClient } from "../src/api/mfa";
import { PasskeysClient, type Passkey } from "../src/api/passkeys";
import type { ChannelLike, LockManagerLike, SessionManager, User } from "../src/api/session";
import type { WebAuthn } from "../src/api/webauthn";

export const AUTH = "http://auth.test";
export const TASKS = "http://tasks.test";

export const alice: User = {
  id: "00000000-0000-4000-8000-000000000001",
  email: "alice@example.com",
  name: "Alice",
  created_at: "2026-01-01T00:00:00Z",
  email_verified: true,
  totp_enabled: false,
};

/** The fake's authenticator app: this secret, and this code is the one it "shows". */
export const TOTP_SECRET = "JBSWY3DPEHPK3PXP";
export const TOTP_CODE = "123456";
/** In the service's form, `xxxx-xxxx-xxxx-xxxx`. */
export const RECOVERY_CODES = Array.from({ length: 10 }, (_, i) => `r${i}cv-7kd2-${i}m4p-x9q${i}`);

/** Passkeys as the fake auth-service lists them: one used, one never used. */
export function somePasskeys(): (Passkey & { credentialId: string })[] {
  return [
    {
      id: "40000000-0000-4000-8000-000000000001",
      name: "Work laptop",
      created_at: "2026-05-01T09:00:00Z",
      last_used_at: "2026-05-20T11:30:00Z",
      credentialId: "cred-laptop",
    },
    {
      id: "40000000-0000-4000-8000-000000000002",
      name: "Phone",
      created_at: "2026-04-02T08:00:00Z",
      last_used_at: null,
      credentialId: "cred-phone",
    },
  ];
}

/**
 * A stand-in for the browser's authenticator: `create` and `get` answer with credentials the fake
 * auth-service recognises by id, or fail as `failWith` says (a DOMException named as the browser
 * would: NotAllowedError when the person closes the prompt).
 */
export class FakeWebAuthn implements WebAuthn {
  supported = true;
  failWith: string | null = null;
  /** The credential `get` signs with (a passkey the fake server knows, or not). */
  credentialId = "cred-laptop";
  created: PublicKeyCredentialCreationOptionsJSON[] = [];
  requested: PublicKeyCredentialRequestOptionsJSON[] = [];
  private counter = 0;

  async create(options: PublicKeyCredentialCreationOptionsJSON) {
    this.created.push(options);
    if (this.failWith) throw new DOMException("refused", this.failWith);
    const id = `cred-new-${++this.counter}`;
    return { id, rawId: id, type: "public-key", response: { clientDataJSON: "e30", attestationObject: "o2Nm" } };
  }

  async get(options: PublicKeyCredentialRequestOptionsJSON) {
    this.requested.push(options);
    if (this.failWith) throw new DOMException("refused", this.failWith);
    const id = this.credentialId;
    return {
      id,
      rawId: id,
      type: "public-key",
      response: { clientDataJSON: "e30", authenticatorData: "AA", signature: "AA", userHandle: "dXNlcg" },
    };
  }
}

/** The second-factor clients the App takes, on the fake services. */
export function secondFactors(session: SessionManager, server: FakeServer, webauthn: WebAuthn = new FakeWebAuthn()) {
  return {
    mfa: new MfaClient(AUTH, session),
    passkeys: new PasskeysClient(AUTH, session, webauthn, server.fetch),
  };
}

/** Sessions as the fake auth-service lists them: this browser's first, then two others. */
export function someSessions(): SessionInfo[] {
  return [
    {
      id: "10000000-0000-4000-8000-000000000001",
      created_at: "2026-05-01T09:00:00Z",
      last_used_at: "2026-05-20T11:58:00Z",
      expires_at: "2026-06-19T11:58:00Z",
      user_agent:
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      ip: "203.0.113.7",
      current: true,
    },
    {
      id: "10000000-0000-4000-8000-000000000002",
      created_at: "2026-04-02T08:00:00Z",
      last_used_at: "2026-05-19T12:00:00Z",
      expires_at: "2026-06-18T12:00:00Z",
      user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
      ip: "198.51.100.23",
      current: false,
    },
    {
      id: "10000000-0000-4000-8000-000000000003",
      created_at: "2026-03-03T08:00:00Z",
      last_used_at: "2026-05-10T12:00:00Z",
      expires_at: "2026-06-09T12:00:00Z",
      user_agent:
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
      ip: null,
      current: false,
    },
  ];
}

const CHROME_LINUX =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/** Security events as the fake auth-service lists them, newest first: a failed sign-in from
 * curl, a password change, a sign-in and the sign-up. */
export function someEvents(): SecurityEvent[] {
  const event = (n: number, type: string, at: string, extra: Partial<SecurityEvent> = {}): SecurityEvent => ({
    id: `20000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    type,
    at,
    ip: "203.0.113.7",
    user_agent: CHROME_LINUX,
    session_id: "10000000-0000-4000-8000-000000000001",
    ...extra,
  });
  return [
    event(4, "signin_failed", "2026-05-20T11:55:00Z", { ip: "198.51.100.99", user_agent: "curl/8.5.0", session_id: null }),
    event(3, "password_changed", "2026-05-20T09:00:00Z"),
    event(2, "signin", "2026-05-19T12:00:00Z"),
    event(1, "signup", "2026-01-01T00:00:00Z", { ip: null, user_agent: null, session_id: null }),
  ];
}

/** `n` sign-ins, newest first, a minute apart before 12:00 on 2026-05-20. */
export function manyEvents(n: number): SecurityEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `30000000-0000-4000-8000-${String(n - i).padStart(12, "0")}`,
    type: "signin",
    at: new Date(Date.parse("2026-05-20T12:00:00Z") - (i + 1) * 60_000).toISOString(),
    ip: `192.0.2.${(i % 250) + 1}`,
    user_agent: null,
    session_id: null,
  }));
}

export interface Call {
  method: string;
  url: string;
  headers: Headers;
  body: string | null;
  credentials: RequestCredentials | undefined;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });
}

export function problem(
  status: number,
  code: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return json(status, { type: "about:blank", title: code, status, detail: code, code, ...extra }, headers);
}

/**
 * Refresh tokens rotate; presenting a retired one revokes the family (no grace window here, so a
 * double refresh shows up as `reuseDetected`).
 */
export class FakeServer {
  calls: Call[] = [];
  cookie: string | null = null;
  private liveRefresh: string | null = null;
  private counter = 0;
  validAccess = new Set<string>();
  reuseDetected = 0;
  expiresIn = 900;
  /** Delay (ms, real timers) before answering a refresh, to widen race windows. */
  refreshDelay = 0;
  /** Overrides per "METHOD path"; return undefined to fall through. */
  handlers = new Map<string, (call: Call) => Response | Promise<Response> | undefined>();
  offline = false;
  /** The account's password and its sessions, for the account routes. */
  password = "correct horse battery";
  sessions: SessionInfo[] = someSessions();
  /** Newest first, paged as the real service does: `cursor` is the last id of the page before. */
  events: SecurityEvent[] = someEvents();
  accountDeleted = false;
  /** Who signs in and who /me says it is (`email_verified` included). */
  user: User = { ...alice };
  /** Link tokens the "mails" carried, each good once. */
  verifyTokens = new Set<string>();
  resetTokens = new Set<string>();
  /** Verification mails sent by request, and when the last went (ms; for the one-a-minute rule). */
  verificationMails = 0;
  lastVerificationMail = -Infinity;
  /** The authenticator app: off, set up but not confirmed, or on (then sign-in wants a code). */
  totp: "off" | "pending" | "on" = "off";
  recoveryCodes: string[] = [];
  /** Sign-in tokens for the code step, with the wrong codes tried on each. */
  mfaTokens = new Map<string, number>();
  passkeys: (Passkey & { credentialId: string })[] = somePasskeys();
  /** Open WebAuthn challenges, each good once. */
  challenges = new Set<string>();

  get refreshCalls() {
    return this.calls.filter((c) => c.url === `${AUTH}/api/auth/refresh`).length;
  }

  private issue(user?: User) {
    const access = `at-${++this.counter}`;
    const refresh = `rt-${this.counter}`;
    this.validAccess.add(access);
    this.liveRefresh = refresh;
    this.cookie = refresh; // Set-Cookie: HttpOnly, so script never sees it
    const body: Record<string, unknown> = {
      access_token: access,
      token_type: "Bearer",
      expires_in: this.expiresIn,
      refresh_token: null,
    };
    if (user) body.user = user;
    return body;
  }

  /** Starts a session as if signed in earlier (cookie present, nothing in memory). */
  seedCookie() {
    this.issue();
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const call: Call = {
      method: (init.method ?? "GET").toUpperCase(),
      url,
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : null,
      credentials: init.credentials,
    };
    this.calls.push(call);
    if (this.offline) throw new TypeError("Failed to fetch");
    const path = new URL(url).pathname;
    const custom = this.handlers.get(`${call.method} ${path}`);
    if (custom) {
      const res = await custom(call);
      if (res) return res;
    }
    if (url.startsWith(AUTH)) return this.auth(call, path);
    return this.tasks(call, path);
  };

  private async auth(call: Call, path: string): Promise<Response> {
    const cookieAllowed = call.credentials === "include";
    switch (`${call.method} ${path}`) {
      case "POST /api/auth/signin":
        if (this.totp === "on") {
          const token = `mfa-${++this.counter}`;
          this.mfaTokens.set(token, 0);
          return problem(403, "mfa_required", { mfa_token: token });
        }
        return json(200, this.issue(this.user));
      case "POST /api/auth/signup":
        return json(201, this.issue(this.user));
      case "POST /api/auth/signin/mfa": {
        const body = JSON.parse(call.body ?? "{}") as { mfa_token?: string; code?: string };
        const tries = body.mfa_token ? this.mfaTokens.get(body.mfa_token) : undefined;
        if (tries === undefined) return problem(401, "invalid_token");
        const code = String(body.code ?? "").toLowerCase().replace(/-/g, "");
        const recovery = this.recoveryCodes.findIndex((c) => c.replace(/-/g, "") === code);
        if (code !== TOTP_CODE && recovery < 0) {
          // Five wrong codes and the token is used up.
          if (tries >= 4) this.mfaTokens.delete(body.mfa_token!);
          else this.mfaTokens.set(body.mfa_token!, tries + 1);
          return problem(401, "invalid_credentials");
        }
        if (recovery >= 0) this.recoveryCodes.splice(recovery, 1);
        this.mfaTokens.delete(body.mfa_token!);
        return json(200, this.issue(this.user));
      }
      case "POST /api/auth/passkeys/signin/start": {
        const id = `chal-${++this.counter}`;
        this.challenges.add(id);
        return json(200, { challenge_id: id, publicKey: { challenge: "Y2hhbGxlbmdl", rpId: "localhost", userVerification: "preferred" } });
      }
      case "POST /api/auth/passkeys/signin/finish": {
        const body = JSON.parse(call.body ?? "{}") as { challenge_id?: string; credential?: { id?: string } };
        const known = this.passkeys.find((p) => p.credentialId === body.credential?.id);
        if (!body.challenge_id || !this.challenges.delete(body.challenge_id) || !known) {
          return problem(401, "invalid_credentials");
        }
        known.last_used_at = new Date().toISOString();
        return json(200, this.issue(this.user));
      }
      case "POST /api/auth/refresh": {
        if (this.refreshDelay) await new Promise((r) => setTimeout(r, this.refreshDelay));
        const presented = cookieAllowed ? this.cookie : null;
        if (!presented) return problem(401, "invalid_token");
        if (presented !== this.liveRefresh) {
          this.reuseDetected++;
          this.liveRefresh = null;
          return problem(401, "invalid_token");
        }
        return json(200, this.issue());
      }
      case "POST /api/auth/signout":
        this.liveRefresh = null;
        this.cookie = null;
        return new Response(null, { status: 204 });
      case "GET /api/auth/me": {
        const token = call.headers.get("Authorization")?.replace(/^Bearer /, "");
        if (!token || !this.validAccess.has(token)) return problem(401, "invalid_token");
        return json(200, this.user);
      }
      case "POST /api/auth/email/verify": {
        const { token } = JSON.parse(call.body ?? "{}") as { token?: string };
        if (!token || !this.verifyTokens.delete(token)) return problem(400, "invalid_token_link");
        this.user = { ...this.user, email_verified: true };
        return new Response(null, { status: 204 });
      }
      case "POST /api/auth/password/reset/request":
        // The same answer whether or not the address has an account.
        return new Response(null, { status: 202 });
      case "POST /api/auth/password/reset": {
        const body = JSON.parse(call.body ?? "{}") as { token?: string; new_password?: string };
        if (body.new_password === "password") {
          return problem(422, "validation_failed", {
            errors: [{ field: "new_password", code: "password_too_common", message: "too common" }],
          });
        }
        if (!body.token || !this.resetTokens.delete(body.token)) return problem(400, "invalid_token_link");
        // Every session of the account ends; following the link proved the address too.
        this.password = String(body.new_password);
        this.liveRefresh = null;
        this.validAccess.clear();
        this.user = { ...this.user, email_verified: true };
        return new Response(null, { status: 204 });
      }
    }
    return this.account(call, path);
  }

  /** The account routes: bearer only, acting on this one account. */
  private account(call: Call, path: string): Response {
    const token = call.headers.get("Authorization")?.replace(/^Bearer /, "");
    if (!token || !this.validAccess.has(token)) return problem(401, "invalid_token");
    const body = call.body ? (JSON.parse(call.body) as Record<string, unknown>) : {};
    const wrong = (field: string) =>
      problem(422, "validation_failed", { errors: [{ field, code: "wrong_password", message: "wrong password" }] });
    const noContent = () => new Response(null, { status: 204 });
    const passkeyPath = /^\/api\/auth\/passkeys\/([^/]+)$/.exec(path);
    if (call.method === "DELETE" && passkeyPath) {
      const id = decodeURIComponent(passkeyPath[1]!);
      if (!this.passkeys.some((p) => p.id === id)) return problem(404, "not_found");
      this.passkeys = this.passkeys.filter((p) => p.id !== id);
      return noContent();
    }
    const sessionPath = /^\/api\/auth\/sessions\/([^/]+)$/.exec(path);
    if (call.method === "DELETE" && sessionPath) {
      const id = decodeURIComponent(sessionPath[1]!);
      if (!this.sessions.some((s) => s.id === id)) return problem(404, "not_found");
      this.sessions = this.sessions.filter((s) => s.id !== id);
      return noContent();
    }
    switch (`${call.method} ${path}`) {
      case "GET /api/auth/sessions":
        return json(200, this.sessions);
      case "POST /api/auth/mfa/totp/setup":
        if (this.totp === "on") return problem(409, "totp_already_enabled");
        this.totp = "pending";
        return json(200, {
          secret: TOTP_SECRET,
          otpauth_uri: `otpauth://totp/Tasks:${encodeURIComponent(this.user.email)}?secret=${TOTP_SECRET}&issuer=Tasks`,
        });
      case "POST /api/auth/mfa/totp/confirm":
        if (this.totp !== "pending") return problem(409, "totp_not_pending");
        if (body.code !== TOTP_CODE) {
          return problem(422, "validation_failed", {
            errors: [{ field: "code", code: "invalid_code", message: "invalid code" }],
          });
        }
        this.totp = "on";
        this.user = { ...this.user, totp_enabled: true };
        this.recoveryCodes = [...RECOVERY_CODES];
        return json(200, { recovery_codes: this.recoveryCodes });
      case "DELETE /api/auth/mfa/totp":
        if (body.password !== this.password) return wrong("password");
        if (this.totp !== "on") return problem(409, "totp_not_enabled");
        this.totp = "off";
        this.user = { ...this.user, totp_enabled: false };
        this.recoveryCodes = [];
        this.sessions = this.sessions.filter((s) => s.current);
        return noContent();
      case "GET /api/auth/passkeys":
        return json(
          200,
          this.passkeys.map(({ credentialId, ...p }) => {
            void credentialId;
            return p;
          }),
        );
      case "POST /api/auth/passkeys/register/start": {
        const id = `chal-${++this.counter}`;
        this.challenges.add(id);
        return json(200, {
          challenge_id: id,
          publicKey: {
            challenge: "Y2hhbGxlbmdl",
            rp: { name: "Tasks", id: "localhost" },
            user: { id: "dXNlcg", name: this.user.email, displayName: this.user.name ?? this.user.email },
            pubKeyCredParams: [{ type: "public-key", alg: -7 }],
            excludeCredentials: this.passkeys.map((p) => ({ type: "public-key", id: p.credentialId })),
          },
        });
      }
      case "POST /api/auth/passkeys/register/finish": {
        const { challenge_id, credential, name } = body as { challenge_id?: string; credential?: { id?: string }; name?: string };
        if (!challenge_id || !this.challenges.delete(challenge_id) || !credential?.id) {
          return problem(401, "invalid_credentials");
        }
        const added = {
          id: `40000000-0000-4000-9000-${String(++this.counter).padStart(12, "0")}`,
          name: name ?? "Chrome on Linux",
          created_at: new Date().toISOString(),
          last_used_at: null,
          credentialId: credential.id,
        };
        this.passkeys.push(added);
        const { credentialId, ...passkey } = added;
        void credentialId;
        return json(201, passkey);
      }
      case "POST /api/auth/email/verify/request": {
        if (this.user.email_verified) return new Response(null, { status: 202 });
        const wait = Math.ceil((this.lastVerificationMail + 60_000 - Date.now()) / 1000);
        if (wait > 0) return problem(429, "rate_limited", {}, { "Retry-After": String(wait) });
        this.verificationMails++;
        this.lastVerificationMail = Date.now();
        return new Response(null, { status: 202 });
      }
      case "GET /api/auth/events":
        return this.eventPage(new URL(call.url).searchParams);
      case "POST /api/auth/signout-all":
        this.sessions = body.keep_current === true ? this.sessions.filter((s) => s.current) : [];
        return noContent();
      case "POST /api/auth/password":
        if (body.current_password !== this.password) return wrong("current_password");
        this.password = String(body.new_password);
        this.sessions = this.sessions.filter((s) => s.current);
        this.events.unshift({
          id: `20000000-0000-4000-9000-${String(this.events.length).padStart(12, "0")}`,
          type: "password_changed",
          at: new Date().toISOString(),
          ip: "203.0.113.7",
          user_agent: null,
          session_id: null,
        });
        return noContent();
      case "DELETE /api/auth/me":
        if (body.password !== this.password) return wrong("password");
        this.accountDeleted = true;
        this.sessions = [];
        this.liveRefresh = null;
        this.validAccess.clear();
        return noContent();
    }
    return problem(404, "not_found");
  }

  private eventPage(query: URLSearchParams): Response {
    const limit = Number(query.get("limit") ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return problem(400, "invalid_query");
    const cursor = query.get("cursor");
    let start = 0;
    if (cursor !== null) {
      start = this.events.findIndex((e) => e.id === cursor) + 1;
      if (start === 0) return problem(400, "invalid_query");
    }
    const items = this.events.slice(start, start + limit);
    const more = start + limit < this.events.length;
    return json(200, { items, next_cursor: more ? items.at(-1)!.id : null });
  }

  private tasks(call: Call, path: string): Response {
    const token = call.headers.get("Authorization")?.replace(/^Bearer /, "");
    if (!token || !this.validAccess.has(token)) return problem(401, "invalid_token");
    if (call.method === "GET" && path === "/api/tasks") return json(200, { items: [], next_cursor: null });
    return problem(404, "not_found");
  }
}

/** navigator.locks stand-in: one FIFO exclusive lock per name, shared by every "tab". */
export class FakeLocks implements LockManagerLike {
  private tails = new Map<string, Promise<unknown>>();
  held = 0;
  maxHeld = 0;

  request<T>(name: string, callback: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(async () => {
      this.held++;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      try {
        return await callback();
      } finally {
        this.held--;
      }
    });
    this.tails.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }
}

/** BroadcastChannel stand-in that delivers synchronously to every other member. */
export class FakeHub {
  private members = new Set<FakeChannel>();
  channel(): FakeChannel {
    const ch = new FakeChannel(this.members);
    this.members.add(ch);
    return ch;
  }
}

export class FakeChannel implements ChannelLike {
  private listeners: ((event: MessageEvent) => void)[] = [];
  constructor(private members: Set<FakeChannel>) {}
  postMessage(message: unknown) {
    for (const m of this.members) {
      if (m === this) continue;
      for (const l of m.listeners) l({ data: structuredClone(message) } as MessageEvent);
    }
  }
  addEventListener(_type: "message", listener: (event: MessageEvent) => void) {
    this.listeners.push(listener);
  }
  close() {
    this.members.delete(this);
  }
}
