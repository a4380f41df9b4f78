import { afterEach, describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "../src/api/errors";
import { SessionManager } from "../src/api/session";
import { TasksClient } from "../src/api/tasks";
import { AUTH, FakeServer, TASKS, problem } from "./fakes";

function setup() {
  const server = new FakeServer();
  const session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  const client = new TasksClient(`${TASKS}/`, session);
  return { server, session, client };
}

let disposers: (() => void)[] = [];
afterEach(() => {
  disposers.forEach((d) => d());
  disposers = [];
});

async function signedIn() {
  const ctx = setup();
  disposers.push(() => ctx.session.dispose());
  await ctx.session.signIn({ email: "a@example.com", password: "pw pw pw pw" });
  return ctx;
}

const task = {
  id: "t1",
  title: "Buy milk",
  description: null,
  completed: false,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  completed_at: null,
};

describe("TasksClient", () => {
  it("lists with the filter, search, limit and cursor in the query string", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("GET /api/tasks", () => Response.json({ items: [task], next_cursor: "abc" }));
    const page = await client.list({ status: "pending", q: "  milk ", limit: 20, cursor: "c/1+2" });
    expect(page).toEqual({ items: [task], next_cursor: "abc" });
    const call = server.calls.at(-1)!;
    const url = new URL(call.url);
    expect(url.origin + url.pathname).toBe(`${TASKS}/api/tasks`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ status: "pending", q: "milk", limit: "20", cursor: "c/1+2" });
    expect(call.headers.get("Authorization")).toBe("Bearer at-1");
    expect(call.credentials).toBe("omit");
  });

  it("leaves out status=all and an empty search", async () => {
    const { server, client } = await signedIn();
    await client.list({ status: "all", q: "   " });
    expect(server.calls.at(-1)!.url).toBe(`${TASKS}/api/tasks`);
  });

  it("creates with a JSON body, omitting an empty description", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("POST /api/tasks", () => Response.json(task, { status: 201 }));
    await client.create({ title: "Buy milk", description: "" });
    await client.create({ title: "Buy milk", description: "2 litres" });
    const [first, second] = server.calls.slice(-2);
    expect(first!.method).toBe("POST");
    expect(first!.headers.get("Content-Type")).toBe("application/json");
    expect(JSON.parse(first!.body!)).toEqual({ title: "Buy milk" });
    expect(JSON.parse(second!.body!)).toEqual({ title: "Buy milk", description: "2 litres" });
  });

  it("patches only the given fields", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("PATCH /api/tasks/t1", () => Response.json({ ...task, completed: true }));
    const updated = await client.update("t1", { completed: true });
    expect(updated.completed).toBe(true);
    expect(JSON.parse(server.calls.at(-1)!.body!)).toEqual({ completed: true });
  });

  it("deletes (204), treats an already-deleted task as deleted, and surfaces other failures", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("DELETE /api/tasks/t1", () => new Response(null, { status: 204 }));
    server.handlers.set("DELETE /api/tasks/gone", () => problem(404, "not_found"));
    server.handlers.set("DELETE /api/tasks/busy", () => problem(503, "not_ready"));
    await expect(client.remove("t1")).resolves.toBeUndefined();
    await expect(client.remove("gone")).resolves.toBeUndefined();
    await expect(client.remove("busy")).rejects.toMatchObject({ status: 503, code: "not_ready" });
  });

  it("turns validation problems into field errors", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("POST /api/tasks", () =>
      problem(422, "validation_failed", { errors: [{ field: "title", code: "too_long", message: "Too long." }] }),
    );
    const err = (await client.create({ title: "x".repeat(201) }).catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.fieldError("title")?.message).toBe("Too long.");
  });

  it("reports 429 with its Retry-After and a dead network as NetworkError", async () => {
    const { server, client } = await signedIn();
    server.handlers.set("GET /api/tasks", () => problem(429, "rate_limited", {}));
    const original = server.handlers.get("GET /api/tasks")!;
    server.handlers.set("GET /api/tasks", (c) => {
      const res = original(c) as Response;
      return new Response(res.body, { status: 429, headers: { "Retry-After": "7" } });
    });
    await expect(client.list()).rejects.toMatchObject({ code: "rate_limited", retryAfter: 7 });
    server.offline = true;
    await expect(client.list()).rejects.toBeInstanceOf(NetworkError);
  });
});
