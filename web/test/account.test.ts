/** AccountClient against the fake auth-service: paths, methods, bodies and what each answer means. */
import { afterEach, describe, expect, it } from "vitest";
import { AccountClient } from "../src/api/account";
import { ApiError } from "../src/api/errors";
import { SessionManager } from "../src/api/session";
import { AUTH, FakeServer, manyEvents, problem, someEvents, someSessions } from "./fakes";

let disposers: (() => void)[] = [];
afterEach(() => {
  disposers.forEach((d) => d());
  disposers = [];
});

async function signedIn() {
  const server = new FakeServer();
  const session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  disposers.push(() => session.dispose());
  await session.signIn({ email: "alice@example.com", password: server.password });
  const client = new AccountClient(`${AUTH}/`, session);
  return { server, session, client };
}

const last = (server: FakeServer) => server.calls.at(-1)!;

describe("AccountClient", () => {
  it("lists the sessions with the bearer token", async () => {
    const { server, client } = await signedIn();
    expect(await client.listSessions()).toEqual(someSessions());
    const call = last(server);
    expect(call.method).toBe("GET");
    expect(call.url).toBe(`${AUTH}/api/auth/sessions`);
    expect(call.headers.get("Authorization")).toBe("Bearer at-1");
    expect(call.headers.get("Accept")).toBe("application/json");
    expect(call.credentials).toBe("include");
    expect(call.body).toBeNull();
  });

  it("lists the security events a page at a time, with limit and cursor in the query", async () => {
    const { server, client } = await signedIn();
    expect(await client.listEvents()).toEqual({ items: someEvents(), next_cursor: null });
    expect(last(server)).toMatchObject({ method: "GET", url: `${AUTH}/api/auth/events`, body: null });
    expect(last(server).headers.get("Authorization")).toBe("Bearer at-1");

    server.events = manyEvents(5);
    const first = await client.listEvents({ limit: 3 });
    expect(last(server).url).toBe(`${AUTH}/api/auth/events?limit=3`);
    expect(first.items.map((e) => e.id)).toEqual(server.events.slice(0, 3).map((e) => e.id));
    expect(first.next_cursor).toBe(server.events[2]!.id);
    const second = await client.listEvents({ limit: 3, cursor: first.next_cursor });
    expect(last(server).url).toBe(`${AUTH}/api/auth/events?limit=3&cursor=${first.next_cursor}`);
    expect(second).toEqual({ items: server.events.slice(3), next_cursor: null });
  });

  it("passes a refused events query on as an ApiError", async () => {
    const { client } = await signedIn();
    const err = await client.listEvents({ cursor: "not-one-it-issued" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("invalid_query");
  });

  it("ends one session by its id, and an unknown one (already ended) is no error", async () => {
    const { server, client } = await signedIn();
    const id = someSessions()[1]!.id;
    await client.endSession(id);
    expect(last(server)).toMatchObject({ method: "DELETE", url: `${AUTH}/api/auth/sessions/${id}` });
    expect(server.sessions.map((s) => s.id)).not.toContain(id);
    await expect(client.endSession(id)).resolves.toBeUndefined();
    expect(last(server).url).toBe(`${AUTH}/api/auth/sessions/${id}`);
  });

  it("escapes the id in the path and passes other failures on", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("DELETE /api/auth/sessions/a%2Fb", () => problem(503, "not_ready"));
    const err = await client.endSession("a/b").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("not_ready");
  });

  it("signs out everywhere, keeping this session only when asked", async () => {
    const { server, client } = await signedIn();
    await client.signOutEverywhere({ keepCurrent: true });
    expect(last(server)).toMatchObject({ method: "POST", url: `${AUTH}/api/auth/signout-all` });
    expect(JSON.parse(last(server).body!)).toEqual({ keep_current: true });
    expect(last(server).headers.get("Content-Type")).toBe("application/json");
    expect(server.sessions.map((s) => s.current)).toEqual([true]);

    await client.signOutEverywhere({ keepCurrent: false });
    expect(JSON.parse(last(server).body!)).toEqual({ keep_current: false });
  });

  it("changes the password with the service's field names, and names the wrong field", async () => {
    const { server, client } = await signedIn();
    const err = await client
      .changePassword({ currentPassword: "not it", newPassword: "a brand new passphrase" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(422);
    expect((err as ApiError).fieldError("current_password")?.code).toBe("wrong_password");

    await client.changePassword({ currentPassword: "correct horse battery", newPassword: "a brand new passphrase" });
    expect(last(server)).toMatchObject({ method: "POST", url: `${AUTH}/api/auth/password` });
    expect(JSON.parse(last(server).body!)).toEqual({
      current_password: "correct horse battery",
      new_password: "a brand new passphrase",
    });
    expect(server.password).toBe("a brand new passphrase");
  });

  it("deletes the account with the password in a JSON body", async () => {
    const { server, client } = await signedIn();
    const err = await client.deleteAccount("not it").catch((e: unknown) => e);
    expect((err as ApiError).fieldError("password")?.code).toBe("wrong_password");
    expect(server.accountDeleted).toBe(false);

    await client.deleteAccount("correct horse battery");
    expect(last(server)).toMatchObject({ method: "DELETE", url: `${AUTH}/api/auth/me` });
    expect(JSON.parse(last(server).body!)).toEqual({ password: "correct horse battery" });
    expect(server.accountDeleted).toBe(true);
  });

  it("retries once with a fresh token after a 401, body included", async () => {
    const { server, client } = await signedIn();
    server.validAccess.delete("at-1");
    await client.changePassword({ currentPassword: "correct horse battery", newPassword: "another long one" });
    const posts = server.calls.filter((c) => c.url === `${AUTH}/api/auth/password`);
    expect(posts.map((c) => c.headers.get("Authorization"))).toEqual(["Bearer at-1", "Bearer at-2"]);
    expect(posts[1]!.body).toBe(posts[0]!.body);
  });
});
