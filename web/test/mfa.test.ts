/** The second factors' API clients against the fake auth-service: the code step at sign-in,
 * passkey sign-in, the authenticator app's set-up and turning it off, the passkey list, and the
 * WebAuthn JSON conversions for browsers without the Level 3 helpers. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, isRefusedToken, NetworkError } from "../src/api/errors";
import { groupSecret, MfaClient, tidyCode } from "../src/api/mfa";
import { PasskeysClient } from "../src/api/passkeys";
import { MfaRequiredError, SessionManager } from "../src/api/session";
import {
  browserWebAuthn,
  ceremonyCancelled,
  creationOptionsFromJSON,
  credentialToJSON,
  fromBase64url,
  requestOptionsFromJSON,
  toBase64url,
} from "../src/api/webauthn";
import { AUTH, FakeServer, FakeWebAuthn, RECOVERY_CODES, TASKS, TOTP_CODE, TOTP_SECRET, alice, problem } from "./fakes";

let server: FakeServer;
let session: SessionManager;

const calls = (method: string, path: string) =>
  server.calls.filter((c) => c.method === method && new URL(c.url).pathname === path);
const bodyOf = (method: string, path: string, i = 0) => JSON.parse(calls(method, path)[i]!.body!) as unknown;

async function signedIn() {
  await session.signIn({ email: alice.email, password: server.password });
  server.calls = [];
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-05-20T12:00:00Z"), toFake: ["Date"] });
  server = new FakeServer();
  session = new SessionManager({ authUrl: AUTH, fetch: server.fetch, locks: null, channel: null });
});

afterEach(() => {
  session.dispose();
  vi.useRealTimers();
});

describe("sign-in with an authenticator app", () => {
  beforeEach(() => {
    server.totp = "on";
    server.recoveryCodes = [...RECOVERY_CODES];
  });

  it("a right password answers MfaRequiredError with the token, and no session yet", async () => {
    const err = await session.signIn({ email: alice.email, password: server.password }).catch((e) => e);
    expect(err).toBeInstanceOf(MfaRequiredError);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(403);
    expect(err.code).toBe("mfa_required");
    expect(err.mfaToken).toMatch(/^mfa-/);
    expect(session.current.status).toBe("signed-out");
    expect(server.cookie).toBeNull();
  });

  it("a 403 that is not mfa_required (or has no token) stays a plain ApiError", async () => {
    server.handlers.set("POST /api/auth/signin", () => problem(403, "email_not_verified"));
    const err = await session.signIn({ email: alice.email, password: "x" }).catch((e) => e);
    expect(err).not.toBeInstanceOf(MfaRequiredError);
    expect(err.code).toBe("email_not_verified");
    server.handlers.set("POST /api/auth/signin", () => problem(403, "mfa_required"));
    expect(await session.signIn({ email: alice.email, password: "x" }).catch((e) => e)).not.toBeInstanceOf(
      MfaRequiredError,
    );
  });

  it("the code and the token start the session the way sign-in does: cookie transport, credentials included", async () => {
    const { mfaToken } = (await session.signIn({ email: alice.email, password: "pw" }).catch((e) => e)) as MfaRequiredError;
    const user = await session.signInWithCode({ mfaToken, code: TOTP_CODE });

    expect(user.id).toBe(alice.id);
    const call = calls("POST", "/api/auth/signin/mfa")[0]!;
    expect(JSON.parse(call.body!)).toEqual({ mfa_token: mfaToken, code: TOTP_CODE });
    expect(call.credentials).toBe("include");
    expect(call.headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(call.headers.get("Content-Type")).toBe("application/json");
    expect(session.current).toMatchObject({ status: "signed-in", user: { id: alice.id } });
    expect(await session.getAccessToken()).toMatch(/^at-/);
    expect(server.cookie).not.toBeNull();
  });

  it("a wrong code is invalid_credentials and the same token may try again; a recovery code works once", async () => {
    const { mfaToken } = (await session.signIn({ email: alice.email, password: "pw" }).catch((e) => e)) as MfaRequiredError;
    const wrong = await session.signInWithCode({ mfaToken, code: "000000" }).catch((e) => e);
    expect(wrong).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(session.current.status).toBe("signed-out");
    expect(server.refreshCalls).toBe(0);

    await session.signInWithCode({ mfaToken, code: RECOVERY_CODES[3]!.toUpperCase() });
    expect(session.current.status).toBe("signed-in");
    expect(server.recoveryCodes).not.toContain(RECOVERY_CODES[3]);
  });

  it("a used-up token is invalid_token", async () => {
    const { mfaToken } = (await session.signIn({ email: alice.email, password: "pw" }).catch((e) => e)) as MfaRequiredError;
    await session.signInWithCode({ mfaToken, code: TOTP_CODE });
    await session.signOut();
    const err = await session.signInWithCode({ mfaToken, code: TOTP_CODE }).catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: "invalid_token" });
    expect(session.current.status).toBe("signed-out");
  });
});

describe("authorizedFetch after a 401", () => {
  it("does not refresh for invalid_credentials: the token was fine", async () => {
    await signedIn();
    server.handlers.set("POST /api/auth/passkeys/register/finish", () => problem(401, "invalid_credentials"));
    const res = await session.authorizedFetch(`${AUTH}/api/auth/passkeys/register/finish`, { method: "POST" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_credentials");
    expect(server.refreshCalls).toBe(0);
    expect(calls("POST", "/api/auth/passkeys/register/finish")).toHaveLength(1);
    expect(session.current.status).toBe("signed-in");
  });

  it("still refreshes and retries for invalid_token, and for a 401 with no problem document", async () => {
    await signedIn();
    server.validAccess.clear();
    expect((await session.authorizedFetch(`${TASKS}/api/tasks`)).status).toBe(200);
    expect(server.refreshCalls).toBe(1);

    let first = true;
    server.handlers.set("GET /api/tasks", () => {
      if (!first) return undefined;
      first = false;
      return new Response("<html>proxy says no</html>", { status: 401 });
    });
    expect((await session.authorizedFetch(`${TASKS}/api/tasks`)).status).toBe(200);
    expect(server.refreshCalls).toBe(2);
  });

  it("isRefusedToken: only invalid_token (or no code at all) means the token", () => {
    expect(isRefusedToken(new ApiError(401, { code: "invalid_token" }))).toBe(true);
    expect(isRefusedToken(new ApiError(401, {}))).toBe(true);
    expect(isRefusedToken(new ApiError(401, { code: "invalid_credentials" }))).toBe(false);
    expect(isRefusedToken(new ApiError(403, { code: "invalid_token" }))).toBe(false);
  });
});

describe("MfaClient", () => {
  let mfa: MfaClient;
  beforeEach(async () => {
    await signedIn();
    mfa = new MfaClient(AUTH, session);
  });

  it("set-up, confirm and turn-off: paths, methods, bodies, bearer token", async () => {
    expect(await mfa.setUp()).toEqual({
      secret: TOTP_SECRET,
      otpauth_uri: `otpauth://totp/Tasks:alice%40example.com?secret=${TOTP_SECRET}&issuer=Tasks`,
    });
    const codes = await mfa.confirm(" 123 456 ");
    expect(codes).toEqual(RECOVERY_CODES);
    expect(bodyOf("POST", "/api/auth/mfa/totp/confirm")).toEqual({ code: "123456" });
    await mfa.turnOff(server.password);
    expect(bodyOf("DELETE", "/api/auth/mfa/totp")).toEqual({ password: server.password });

    for (const c of server.calls) {
      expect(c.headers.get("Authorization")).toBe("Bearer at-1");
      expect(c.credentials).toBe("include");
    }
    expect(calls("POST", "/api/auth/mfa/totp/setup")[0]!.body).toBeNull();
    expect(server.totp).toBe("off");
  });

  it("a wrong code is a 422 on `code`, not a 401: no refresh, still signed in", async () => {
    await mfa.setUp();
    const err = await mfa.confirm("654321").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.fieldError("code")).toMatchObject({ code: "invalid_code" });
    expect(server.refreshCalls).toBe(0);
  });

  it("passes the 409s through with their codes, and a wrong password as a 422 on `password`", async () => {
    expect(await mfa.confirm(TOTP_CODE).catch((e) => e)).toMatchObject({ status: 409, code: "totp_not_pending" });
    expect(await mfa.turnOff(server.password).catch((e) => e)).toMatchObject({ status: 409, code: "totp_not_enabled" });
    await mfa.setUp();
    await mfa.confirm(TOTP_CODE);
    expect(await mfa.setUp().catch((e) => e)).toMatchObject({ status: 409, code: "totp_already_enabled" });
    const wrong = await mfa.turnOff("not it").catch((e) => e);
    expect(wrong.fieldError("password")).toMatchObject({ code: "wrong_password" });
  });

  it("tidies typed codes and groups the key in fours", () => {
    expect(tidyCode(" 123 456\n")).toBe("123456");
    expect(tidyCode("ABCDE-12345")).toBe("ABCDE-12345");
    expect(groupSecret("JBSWY3DPEHPK3PXP")).toBe("JBSW Y3DP EHPK 3PXP");
    expect(groupSecret("JBSWY3DPEHPK3PXPA")).toBe("JBSW Y3DP EHPK 3PXP A");
  });
});

describe("PasskeysClient", () => {
  let webauthn: FakeWebAuthn;
  let passkeys: PasskeysClient;
  beforeEach(() => {
    webauthn = new FakeWebAuthn();
    passkeys = new PasskeysClient(AUTH, session, webauthn, server.fetch);
  });

  it("lists the passkeys with the bearer token", async () => {
    await signedIn();
    const list = await passkeys.list();
    expect(list.map((p) => p.name)).toEqual(["Work laptop", "Phone"]);
    expect(list[0]).toEqual({
      id: "40000000-0000-4000-8000-000000000001",
      name: "Work laptop",
      created_at: "2026-05-01T09:00:00Z",
      last_used_at: "2026-05-20T11:30:00Z",
    });
    expect(calls("GET", "/api/auth/passkeys")[0]!.headers.get("Authorization")).toBe("Bearer at-1");
  });

  it("adds one: the start's options go to the browser, its credential and the name to finish", async () => {
    await signedIn();
    const added = await passkeys.add("  My key ");
    expect(added.name).toBe("My key");
    expect(webauthn.created).toHaveLength(1);
    expect(webauthn.created[0]!.excludeCredentials?.map((c) => c.id)).toEqual(["cred-laptop", "cred-phone"]);
    const start = calls("POST", "/api/auth/passkeys/register/start")[0]!;
    expect(start.headers.get("Authorization")).toBe("Bearer at-1");
    const finish = bodyOf("POST", "/api/auth/passkeys/register/finish") as Record<string, unknown>;
    expect(finish).toEqual({
      challenge_id: expect.stringMatching(/^chal-/),
      name: "My key",
      credential: expect.objectContaining({ id: "cred-new-1", type: "public-key" }),
    });
    // No name typed: none sent, the service names it.
    await passkeys.add("   ");
    expect(bodyOf("POST", "/api/auth/passkeys/register/finish", 1)).not.toHaveProperty("name");
  });

  it("a cancelled prompt stops before finish; a refused registration is a 401 without a refresh", async () => {
    await signedIn();
    webauthn.failWith = "NotAllowedError";
    const cancelled = await passkeys.add().catch((e) => e);
    expect(ceremonyCancelled(cancelled)).toBe(true);
    expect(calls("POST", "/api/auth/passkeys/register/finish")).toHaveLength(0);

    webauthn.failWith = null;
    server.handlers.set("POST /api/auth/passkeys/register/finish", () => problem(401, "invalid_credentials"));
    const refused = await passkeys.add().catch((e) => e);
    expect(refused).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(server.refreshCalls).toBe(0);
    expect(session.current.status).toBe("signed-in");
  });

  it("removes one; one already gone is gone", async () => {
    await signedIn();
    await passkeys.remove("40000000-0000-4000-8000-000000000002");
    expect(server.passkeys.map((p) => p.name)).toEqual(["Work laptop"]);
    await passkeys.remove("40000000-0000-4000-8000-000000000002");
    expect(calls("DELETE", "/api/auth/passkeys/40000000-0000-4000-8000-000000000002")).toHaveLength(2);
    server.handlers.set("DELETE /api/auth/passkeys/x", () => problem(503, "not_ready"));
    expect(await passkeys.remove("x").catch((e) => e)).toMatchObject({ status: 503 });
  });

  it("signs in: start without credentials, the browser signs, finish makes the session like sign-in", async () => {
    const user = await passkeys.signIn();
    expect(user.id).toBe(alice.id);
    const start = calls("POST", "/api/auth/passkeys/signin/start")[0]!;
    expect(start.credentials).toBe("omit");
    expect(start.headers.get("Authorization")).toBeNull();
    expect(webauthn.requested[0]).toMatchObject({ challenge: "Y2hhbGxlbmdl" });
    expect(webauthn.requested[0]).not.toHaveProperty("allowCredentials");
    const finish = calls("POST", "/api/auth/passkeys/signin/finish")[0]!;
    expect(finish.credentials).toBe("include");
    expect(finish.headers.get("X-Refresh-Token-Transport")).toBe("cookie");
    expect(JSON.parse(finish.body!)).toEqual({
      challenge_id: expect.stringMatching(/^chal-/),
      credential: expect.objectContaining({ id: "cred-laptop" }),
    });
    expect(session.current.status).toBe("signed-in");
    expect(server.passkeys[0]!.last_used_at).not.toBeNull();
  });

  it("a passkey the service does not know is invalid_credentials; a cancelled prompt sends nothing more", async () => {
    webauthn.credentialId = "cred-removed";
    expect(await passkeys.signIn().catch((e) => e)).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(session.current.status).toBe("signed-out");
    webauthn.failWith = "NotAllowedError";
    expect(ceremonyCancelled(await passkeys.signIn().catch((e) => e))).toBe(true);
    expect(calls("POST", "/api/auth/passkeys/signin/finish")).toHaveLength(1);
  });

  it("a network failure at the start is a NetworkError", async () => {
    server.offline = true;
    expect(await passkeys.signIn().catch((e) => e)).toBeInstanceOf(NetworkError);
  });
});

describe("WebAuthn JSON", () => {
  it("base64url round-trips bytes, without padding", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const text = toBase64url(bytes);
    expect(text).toBe("AAEC-vv8_f7_");
    expect([...fromBase64url(text)]).toEqual([...bytes]);
    expect([...fromBase64url("YQ")]).toEqual([97]);
  });

  it("turns creation and request options' base64url fields into bytes", () => {
    const creation = creationOptionsFromJSON({
      challenge: "AAEC",
      rp: { name: "Tasks", id: "localhost" },
      user: { id: "dXNlcg", name: "a@example.com", displayName: "A" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      excludeCredentials: [{ type: "public-key", id: "AQID", transports: ["internal"] }],
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      hints: ["client-device"],
    });
    expect([...(creation.challenge as Uint8Array)]).toEqual([0, 1, 2]);
    expect(new TextDecoder().decode(creation.user.id as Uint8Array)).toBe("user");
    expect([...(creation.excludeCredentials![0]!.id as Uint8Array)]).toEqual([1, 2, 3]);
    expect(creation.authenticatorSelection).toEqual({ residentKey: "required", userVerification: "preferred" });
    expect(creation).not.toHaveProperty("hints");

    const request = requestOptionsFromJSON({ challenge: "AAEC", rpId: "localhost", userVerification: "required" });
    expect([...(request.challenge as Uint8Array)]).toEqual([0, 1, 2]);
    expect(request).toMatchObject({ rpId: "localhost", userVerification: "required" });
    expect(request).not.toHaveProperty("allowCredentials");
  });

  it("writes a credential without toJSON() as toJSON() would", () => {
    const buf = (...b: number[]) => new Uint8Array(b).buffer;
    const attestation = {
      id: "AQID",
      rawId: buf(1, 2, 3),
      type: "public-key",
      authenticatorAttachment: "platform",
      getClientExtensionResults: () => ({ credProps: { rk: true } }),
      response: {
        clientDataJSON: buf(123, 125),
        attestationObject: buf(9),
        getTransports: () => ["internal"],
        getAuthenticatorData: () => buf(7),
        getPublicKey: () => buf(8),
        getPublicKeyAlgorithm: () => -7,
      },
    } as unknown as PublicKeyCredential;
    expect(credentialToJSON(attestation)).toEqual({
      id: "AQID",
      rawId: "AQID",
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: { credProps: { rk: true } },
      response: {
        clientDataJSON: "e30",
        attestationObject: "CQ",
        transports: ["internal"],
        authenticatorData: "Bw",
        publicKey: "CA",
        publicKeyAlgorithm: -7,
      },
    });
    const assertion = {
      id: "AQID",
      rawId: buf(1, 2, 3),
      type: "public-key",
      authenticatorAttachment: null,
      getClientExtensionResults: () => ({}),
      response: { clientDataJSON: buf(123, 125), authenticatorData: buf(1), signature: buf(2), userHandle: null },
    } as unknown as PublicKeyCredential;
    expect(credentialToJSON(assertion)).toMatchObject({
      response: { clientDataJSON: "e30", authenticatorData: "AQ", signature: "Ag", userHandle: null },
    });
  });

  it("browserWebAuthn: unsupported without PublicKeyCredential; uses the Level 3 helpers when there", async () => {
    const win = (extra: object) => ({ navigator: { credentials: { create: vi.fn(), get: vi.fn() } }, ...extra }) as never;
    expect(browserWebAuthn(win({})).supported).toBe(false);

    const parsed = { challenge: new Uint8Array([1]) };
    const credential = { toJSON: () => ({ id: "from-toJSON" }) };
    const PublicKeyCredential = Object.assign(function PublicKeyCredential() {}, {
      parseCreationOptionsFromJSON: vi.fn(() => parsed),
      parseRequestOptionsFromJSON: vi.fn(() => parsed),
    });
    const w = win({ PublicKeyCredential });
    (w as { navigator: { credentials: { create: ReturnType<typeof vi.fn> } } }).navigator.credentials.create.mockResolvedValue(credential);
    const webauthn = browserWebAuthn(w);
    expect(webauthn.supported).toBe(true);
    const options = { challenge: "AQ" } as PublicKeyCredentialCreationOptionsJSON;
    expect(await webauthn.create(options)).toEqual({ id: "from-toJSON" });
    expect(PublicKeyCredential.parseCreationOptionsFromJSON).toHaveBeenCalledWith(options);
    expect((w as { navigator: { credentials: { create: ReturnType<typeof vi.fn> } } }).navigator.credentials.create).toHaveBeenCalledWith({
      publicKey: parsed,
    });
  });

  it("browserWebAuthn falls back to its own conversion, and a null credential is a cancellation", async () => {
    const get = vi.fn().mockResolvedValue(null);
    const w = { navigator: { credentials: { create: vi.fn(), get } }, PublicKeyCredential: function PublicKeyCredential() {} } as never;
    const err = await browserWebAuthn(w).get({ challenge: "AAEC" }).catch((e) => e);
    expect(ceremonyCancelled(err)).toBe(true);
    const passed = get.mock.calls[0]![0] as CredentialRequestOptions;
    expect([...(passed.publicKey!.challenge as Uint8Array)]).toEqual([0, 1, 2]);
  });
});
