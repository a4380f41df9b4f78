import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, NetworkError } from "../src/api/errors";
import { SessionManager, type AuthState } from "../src/api/session";
import { AUTH, TASKS, FakeHub, FakeLocks, FakeServer, alice, problem } from "./fakes";

let server: FakeServer;
let managers: SessionManager[];

function manager(extra: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) {
  const m = new SessionManager({
    authUrl: AUTH,
    fetch: server.fetch,
    locks: null,
    channel: null,
    ...extra,
  });
  managers.push(m);
  return m;
}

const taskCalls = () => server.calls.filter((c) => c.url.startsWith(TASKS));
const bearerOf = (i: number) => taskCalls()[i]?.headers.get("Authorization");

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-06-01T12:00:00Z") });
  server = new FakeServer();
  managers = [];
});

afterEach(() => {
  for (const m of managers) m.dispose();
  vi.useRealTimers();
});

describe("sign-in and sign-up", () => {
  it("asks for the refresh token as a cookie and keeps only the access token, in memory", async () => {
    const s = manager();
    const states: AuthState[] = [];
    s.subscribe((st) => states.push(st));

    const user = await s.signIn({ email: "alice@example.com", password: "correct horse battery" });

    expect(user).toEqual(alice);
    const call = server.calls[0]!;
    expect(call.url).toBe(`${AUTH}/api/auth/signin`);
    expect(call.method).toBe("POST");
    expect(call.credentials).toBe("include");
    expect(call.headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(call.headers.get("Content-Type")).toBe("application/json");
    expect(JSON.parse(call.body!)).toEqual({ email: "alice@example.com", password: "correct horse battery" });
    expect(states).toEqual([{ status: "signed-in", user: alice }]);
    expect(await s.getAccessToken()).toBe("at-1");
    expect(server.refreshCalls).toBe(0);
  });

  it("sends the name on sign-up only when one was given", async () => {
    const s = manager();
    await s.signUp({ email: "a@example.com", password: "long enough pw", name: "  " });
    await s.signUp({ email: "b@example.com", password: "long enough pw", name: " Bea " });
    expect(JSON.parse(server.calls[0]!.body!)).toEqual({ email: "a@example.com", password: "long enough pw" });
    expect(JSON.parse(server.calls[1]!.body!)).toMatchObject({ name: "Bea" });
    expect(server.calls[0]!.url).toBe(`${AUTH}/api/auth/signup`);
  });

  it("turns problem documents into ApiErrors with field errors", async () => {
    server.handlers.set("POST /api/auth/signup", () =>
      problem(422, "validation_failed", {
        errors: [{ field: "password", code: "password_too_common", message: "This password is too common." }],
      }),
    );
    const s = manager();
    const err = await s.signUp({ email: "a@example.com", password: "password1" }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.code).toBe("validation_failed");
    expect(err.fieldError("password")).toMatchObject({ code: "password_too_common" });
    expect(s.current.status).toBe("signed-out");
  });

  it("reports a wrong password as invalid_credentials and a dead network as NetworkError", async () => {
    server.handlers.set("POST /api/auth/signin", () => problem(401, "invalid_credentials"));
    const s = manager();
    await expect(s.signIn({ email: "a@example.com", password: "nope nope" })).rejects.toMatchObject({
      status: 401,
      code: "invalid_credentials",
    });
    server.offline = true;
    await expect(s.signIn({ email: "a@example.com", password: "nope nope" })).rejects.toBeInstanceOf(NetworkError);
  });
});

describe("refresh before expiry", () => {
  it("refreshes on a timer shortly before the access token expires", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    // 900 s lifetime, 60 s margin: nothing at 839 s, a refresh by 840 s.
    await vi.advanceTimersByTimeAsync(839_000);
    expect(server.refreshCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(server.refreshCalls).toBe(1);
    const refresh = server.calls.at(-1)!;
    expect(refresh.credentials).toBe("include");
    expect(refresh.headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(refresh.body).toBeNull();
    expect(refresh.headers.get("Content-Type")).toBeNull();
    expect(await s.getAccessToken()).toBe("at-2");
    // and the next one is scheduled from the new token
    await vi.advanceTimersByTimeAsync(840_000);
    expect(server.refreshCalls).toBe(2);
  });

  it("refreshes before a request when the token is about to expire (timer missed, tab asleep)", async () => {
    const clock = { t: Date.now() };
    const s = manager({ now: () => clock.t });
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    clock.t += 845_000; // past the refresh point, before expiry; the timer has not fired
    const res = await s.authorizedFetch(`${TASKS}/api/tasks`);
    expect(res.status).toBe(200);
    expect(server.refreshCalls).toBe(1);
    expect(bearerOf(0)).toBe("Bearer at-2");
  });

  it("does not refresh while the token is fresh", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    await vi.advanceTimersByTimeAsync(600_000);
    await s.authorizedFetch(`${TASKS}/api/tasks`);
    await s.authorizedFetch(`${TASKS}/api/tasks`);
    expect(server.refreshCalls).toBe(0);
    expect(bearerOf(1)).toBe("Bearer at-1");
  });
});

describe("retry after 401", () => {
  it("refreshes and retries once when a request is answered 401", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.validAccess.delete("at-1"); // e.g. the service rotated keys
    const res = await s.authorizedFetch(`${TASKS}/api/tasks`, { method: "GET" });
    expect(res.status).toBe(200);
    expect(server.refreshCalls).toBe(1);
    expect(taskCalls().map((c) => c.headers.get("Authorization"))).toEqual(["Bearer at-1", "Bearer at-2"]);
  });

  it("gives up after one retry, returning the second 401 without signing out", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.handlers.set("GET /api/tasks", () => problem(401, "invalid_token"));
    const res = await s.authorizedFetch(`${TASKS}/api/tasks`);
    expect(res.status).toBe(401);
    expect(taskCalls()).toHaveLength(2);
    expect(server.refreshCalls).toBe(1);
    expect(s.current.status).toBe("signed-in");
  });

  it("signs out (reason: expired) when the refresh itself is refused", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.validAccess.clear();
    server.cookie = null; // session revoked elsewhere
    const err = await s.authorizedFetch(`${TASKS}/api/tasks`).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe("invalid_token");
    expect(s.current).toEqual({ status: "signed-out", reason: "expired" });
  });

  it("passes a network failure through as NetworkError and keeps the session", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.offline = true;
    await expect(s.authorizedFetch(`${TASKS}/api/tasks`)).rejects.toBeInstanceOf(NetworkError);
    expect(s.current.status).toBe("signed-in");
    server.offline = false;
    expect((await s.authorizedFetch(`${TASKS}/api/tasks`)).status).toBe(200);
  });
});

describe("single-flight refresh", () => {
  it("collapses concurrent 401 retries into one refresh", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.validAccess.delete("at-1");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => s.authorizedFetch(`${TASKS}/api/tasks`)),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(server.refreshCalls).toBe(1);
    expect(server.reuseDetected).toBe(0);
    expect(taskCalls().slice(6).every((c) => c.headers.get("Authorization") === "Bearer at-2")).toBe(true);
  });

  it("collapses concurrent requests with an expiring token into one refresh", async () => {
    const clock = { t: Date.now() };
    const s = manager({ now: () => clock.t });
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    clock.t += 880_000;
    await Promise.all([s.getAccessToken(), s.getAccessToken(), s.authorizedFetch(`${TASKS}/api/tasks`)]);
    expect(server.refreshCalls).toBe(1);
  });

  it("serialises refreshes across tabs so a rotated token is never presented twice", async () => {
    const locks = new FakeLocks();
    const hub = new FakeHub();
    server.seedCookie(); // signed in earlier; two tabs open at once
    const tabA = manager({ locks, channel: hub.channel() });
    const tabB = manager({ locks, channel: hub.channel() });
    const [a, b] = await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(server.reuseDetected).toBe(0);
    expect(locks.maxHeld).toBe(1);
    // tab B waited for the lock, saw tab A's broadcast token and did not rotate again
    expect(server.refreshCalls).toBe(1);
    expect(a).toBe(b);
  });

  it("without a shared token, queued tabs refresh one after another, each with the live cookie", async () => {
    const locks = new FakeLocks();
    server.seedCookie();
    const tabs = [manager({ locks }), manager({ locks }), manager({ locks })];
    await Promise.all(tabs.map((t) => t.refresh()));
    expect(server.refreshCalls).toBe(3);
    expect(server.reuseDetected).toBe(0);
    expect(locks.maxHeld).toBe(1);
  });

  it("a tab that signs in tells the other tabs, which become signed in without a request", async () => {
    const hub = new FakeHub();
    const tabA = manager({ channel: hub.channel() });
    const tabB = manager({ channel: hub.channel() });
    await tabA.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    expect(tabB.current).toEqual({ status: "signed-in", user: alice });
    await tabB.authorizedFetch(`${TASKS}/api/tasks`);
    expect(server.refreshCalls).toBe(0);
    expect(bearerOf(0)).toBe("Bearer at-1");
  });
});

describe("sign-out", () => {
  it("revokes the session with the cookie and forgets the access token", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    await s.signOut();
    const call = server.calls.at(-1)!;
    expect(call.url).toBe(`${AUTH}/api/auth/signout`);
    expect(call.method).toBe("POST");
    expect(call.credentials).toBe("include");
    expect(call.body).toBeNull();
    expect(call.headers.get("Content-Type")).toBeNull();
    expect(s.current).toEqual({ status: "signed-out", reason: "signed-out" });
    // No token left in memory: the next request has to refresh, and the revoked cookie fails.
    await expect(s.getAccessToken()).rejects.toMatchObject({ status: 401 });
    expect(server.refreshCalls).toBe(1);
    // and the refresh timer is gone
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(server.refreshCalls).toBe(1);
  });

  it("signs the other tabs out too", async () => {
    const hub = new FakeHub();
    const tabA = manager({ channel: hub.channel() });
    const tabB = manager({ channel: hub.channel() });
    await tabA.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    await tabA.signOut();
    expect(tabB.current.status).toBe("signed-out");
  });

  it("stays signed in and says so when the auth-service cannot be reached", async () => {
    const s = manager();
    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    server.offline = true;
    await expect(s.signOut()).rejects.toBeInstanceOf(NetworkError);
    expect(s.current.status).toBe("signed-in");
  });
});

describe("after the account is deleted", () => {
  it("forgets the token here and in the other tabs, saying why, without a request", async () => {
    const hub = new FakeHub();
    const tabA = manager({ channel: hub.channel() });
    const tabB = manager({ channel: hub.channel() });
    await tabA.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    const calls = server.calls.length;
    tabA.accountDeleted();
    expect(server.calls.length).toBe(calls);
    expect(tabA.current).toEqual({ status: "signed-out", reason: "deleted" });
    expect(tabB.current).toEqual({ status: "signed-out", reason: "deleted" });
    // The refresh timer went with the token.
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(server.refreshCalls).toBe(0);
  });
});

describe("restoring the session on load", () => {
  it("refreshes with the cookie, then asks who we are", async () => {
    server.seedCookie();
    const s = manager();
    const state = await s.restore();
    expect(state).toEqual({ status: "signed-in", user: alice });
    expect(server.calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual([
      "POST /api/auth/refresh",
      "GET /api/auth/me",
    ]);
    expect(server.calls[1]!.headers.get("Authorization")).toBe("Bearer at-2");
  });

  it("is simply signed out when there is no session cookie", async () => {
    const s = manager();
    expect(await s.restore()).toEqual({ status: "signed-out", reason: "signed-out" });
  });

  it("throws NetworkError when the auth-service cannot be reached", async () => {
    server.offline = true;
    await expect(manager().restore()).rejects.toBeInstanceOf(NetworkError);
  });
});

describe("asking again who is signed in", () => {
  it("takes the user /me returns now (an address verified), here and in the other tabs", async () => {
    const hub = new FakeHub();
    const tabA = manager({ channel: hub.channel() });
    const tabB = manager({ channel: hub.channel() });
    server.user = { ...alice, email_verified: false };
    await tabA.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    expect(tabB.current).toMatchObject({ status: "signed-in", user: { email_verified: false } });

    server.user = { ...alice, email_verified: true };
    const seen: AuthState[] = [];
    tabA.subscribe((st) => seen.push(st));
    expect(await tabA.reloadUser()).toEqual(server.user);
    const call = server.calls.at(-1)!;
    expect(`${call.method} ${call.url}`).toBe(`GET ${AUTH}/api/auth/me`);
    expect(call.headers.get("Authorization")).toBe("Bearer at-1");
    expect(seen).toEqual([{ status: "signed-in", user: server.user }]);
    expect(tabB.current).toEqual({ status: "signed-in", user: server.user });
  });

  it("changes nothing signed out, nor when someone else signed in meanwhile", async () => {
    const s = manager();
    expect(await s.reloadUser()).toBeNull();
    expect(server.calls).toHaveLength(0);

    await s.signIn({ email: "a@example.com", password: "pw pw pw pw" });
    const bob = { ...alice, id: "00000000-0000-4000-8000-000000000002", email: "bob@example.com" };
    server.handlers.set("GET /api/auth/me", () => Response.json(bob));
    expect(await s.reloadUser()).toEqual(alice);
    expect(s.current).toEqual({ status: "signed-in", user: alice });
  });
});
