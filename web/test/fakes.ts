/** A fake auth-service and task-service behind one fetch(), with a shared cookie jar, for
 * exercising the token logic without a network. */
import type { SecurityEvent, SessionInfo } from "../src/api/account";
import type { ChannelLike, LockManagerLike, User } from "../src/api/session";

export const AUTH = "http://auth.test";
export const TASKS = "http://tasks.test";

export const alice: User = {
  id: "00000000-0000-4000-8000-000000000001",
  email: "alice@example.com",
  name: "Alice",
  created_at: "2026-01-01T00:00:00Z",
  email_verified: true,
};

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
      case "POST /api/auth/signup":
        return json(path.endsWith("signup") ? 201 : 200, this.issue(this.user));
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
