/** EmailClient against the fake auth-service: paths, bodies, credentials, what each answer means,
 * and the verification token spent once however often the page asks. */
import { afterEach, describe, expect, it } from "vitest";
import { EmailClient } from "../src/api/email";
import { ApiError, NetworkError } from "../src/api/errors";
import { SessionManager } from "../src/api/session";
import { AUTH, FakeServer, problem } from "./fakes";

let disposers: (() => void)[] = [];
afterEach(() => {
  disposers.forEach((d) => d());
  disposers = [];
});

function setup() {
  const server = new FakeServer();
  const session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
  disposers.push(() => session.dispose());
  const client = new EmailClient(`${AUTH}/`, session, server.fetch);
  return { server, session, client };
}

const last = (server: FakeServer) => server.calls.at(-1)!;
const rejection = (p: Promise<unknown>) => p.then(() => expect.fail("resolved"), (e: unknown) => e);

describe("EmailClient", () => {
  it("asks for a verification mail with the bearer token; another within the minute is a 429 with the wait", async () => {
    const { server, session, client } = setup();
    server.user = { ...server.user, email_verified: false };
    await session.signIn({ email: "alice@example.com", password: server.password });

    await client.requestVerification();
    expect(last(server)).toMatchObject({ method: "POST", url: `${AUTH}/api/auth/email/verify/request`, body: null });
    expect(last(server).headers.get("Authorization")).toBe("Bearer at-1");
    expect(server.verificationMails).toBe(1);

    const err = await rejection(client.requestVerification());
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, code: "rate_limited" });
    expect((err as ApiError).retryAfter).toBeGreaterThan(50);
    expect(server.verificationMails).toBe(1);
  });

  it("verifies with the token in the body and no credentials", async () => {
    const { server, client } = setup();
    server.verifyTokens.add("tok-1");
    await client.verify("tok-1");
    const call = last(server);
    expect(call).toMatchObject({ method: "POST", url: `${AUTH}/api/auth/email/verify`, credentials: "omit" });
    expect(JSON.parse(call.body!)).toEqual({ token: "tok-1" });
    expect(call.headers.get("Authorization")).toBeNull();
    expect(call.headers.get("Content-Type")).toBe("application/json");
    expect(server.user.email_verified).toBe(true);
  });

  it("sends a verification token once, however often it is asked to (StrictMode, a page mounted again)", async () => {
    const { server, client } = setup();
    server.verifyTokens.add("tok-1");
    const [a, b] = [client.verify("tok-1"), client.verify("tok-1")];
    await Promise.all([a, b]);
    await client.verify("tok-1");
    expect(server.calls.filter((c) => c.url.endsWith("/api/auth/email/verify"))).toHaveLength(1);
  });

  it("passes a refused token on as invalid_token_link, and forgets a failure so that a retry asks again", async () => {
    const { server, client } = setup();
    const err = await rejection(client.verify("used"));
    expect(err).toMatchObject({ status: 400, code: "invalid_token_link" });

    server.offline = true;
    server.verifyTokens.add("tok-2");
    expect(await rejection(client.verify("tok-2"))).toBeInstanceOf(NetworkError);
    server.offline = false;
    await client.verify("tok-2");
    expect(server.calls.filter((c) => c.url.endsWith("/api/auth/email/verify"))).toHaveLength(3);
  });

  it("asks for a reset link with the address and no credentials; 202 is all it says", async () => {
    const { server, client } = setup();
    await expect(client.requestPasswordReset("nobody@example.com")).resolves.toBeUndefined();
    expect(last(server)).toMatchObject({
      method: "POST",
      url: `${AUTH}/api/auth/password/reset/request`,
      credentials: "omit",
    });
    expect(JSON.parse(last(server).body!)).toEqual({ email: "nobody@example.com" });

    server.handlers.set("POST /api/auth/password/reset/request", () =>
      problem(429, "rate_limited", {}, { "Retry-After": "30" }),
    );
    expect(await rejection(client.requestPasswordReset("a@example.com"))).toMatchObject({ retryAfter: 30 });
  });

  it("resets with token and new_password; a weak password is a field error, a spent token a 400", async () => {
    const { server, client } = setup();
    server.resetTokens.add("reset-1");

    const weak = await rejection(client.resetPassword({ token: "reset-1", newPassword: "password" }));
    expect((weak as ApiError).fieldError("new_password")?.code).toBe("password_too_common");

    await client.resetPassword({ token: "reset-1", newPassword: "a new long passphrase" });
    expect(last(server)).toMatchObject({ method: "POST", url: `${AUTH}/api/auth/password/reset`, credentials: "omit" });
    expect(JSON.parse(last(server).body!)).toEqual({ token: "reset-1", new_password: "a new long passphrase" });
    expect(server.password).toBe("a new long passphrase");

    const spent = await rejection(client.resetPassword({ token: "reset-1", newPassword: "another long one" }));
    expect(spent).toMatchObject({ status: 400, code: "invalid_token_link" });
  });
});
