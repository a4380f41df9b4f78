/** The auth-service's authenticator-app routes (TOTP, RFC 6238), for the signed-in person: set
 * it up, confirm it with a first code (which turns it on and gives the recovery codes), and turn
 * it off with the password. The code step at sign-in is `SessionManager.signInWithCode`. */
import { problemFromResponse, readJson } from "./errors";
import type { SessionManager } from "./session";

export interface TotpSetup {
  /** The shared secret in base32, for typing into an app that cannot scan. */
  secret: string;
  /** `otpauth://totp/...`: what the QR code holds. */
  otpauth_uri: string;
}

type Authorized = Pick<SessionManager, "authorizedFetch">;

/** What a person types as a code: spaces (an app shows "123 456") go; the service ignores the
 * case and the dash of a recovery code itself. */
export const tidyCode = (code: string) => code.replace(/\s+/g, "");

/** The key as people copy it by hand: groups of four ("JBSW Y3DP EHPK 3PXP"). */
export const groupSecret = (secret: string) => secret.replace(/\s+/g, "").replace(/(.{4})(?=.)/g, "$1 ");

export class MfaClient {
  private readonly baseUrl: string;

  constructor(
    authUrl: string,
    private readonly session: Authorized,
  ) {
    this.baseUrl = authUrl.replace(/\/+$/, "");
  }

  private call(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    return this.session.authorizedFetch(`${this.baseUrl}${path}`, { ...init, headers, credentials: "include" });
  }

  /** A new secret, not active until confirmed; asking again replaces one not yet confirmed. A 409
   * `totp_already_enabled` when the account has an app already. */
  async setUp(): Promise<TotpSetup> {
    return readJson<TotpSetup>(await this.call("/api/auth/mfa/totp/setup", { method: "POST" }));
  }

  /** Turns the app on with a code it shows. Resolves to the ten recovery codes, which the service
   * never shows again. A wrong code is a 422 on `code` (`invalid_code`); no set-up under way a 409
   * `totp_not_pending`. */
  async confirm(code: string): Promise<string[]> {
    const body = JSON.stringify({ code: tidyCode(code) });
    const res = await readJson<{ recovery_codes: string[] }>(
      await this.call("/api/auth/mfa/totp/confirm", { method: "POST", body }),
    );
    return res.recovery_codes;
  }

  /** Turns the app off; every other session ends. A wrong password is a 422 on `password`; a 409
   * `totp_not_enabled` when it was off already. */
  async turnOff(password: string): Promise<void> {
    const res = await this.call("/api/auth/mfa/totp", { method: "DELETE", body: JSON.stringify({ password }) });
    if (!res.ok) throw await problemFromResponse(res);
    await res.body?.cancel().catch(() => undefined);
  }
}
