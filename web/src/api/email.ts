/** The auth-service's email routes: proving the account's address, and setting a new password
 * from a mailed link when the old one is forgotten. The links' pages (`/verify-email`,
 * `/reset-password`) and the "Forgot password?" form work signed out, so only asking for another
 * verification mail carries the bearer token; the others send no credentials at all. */
import { problemFromResponse, safeFetch } from "./errors";
import type { SessionManager } from "./session";

type Authorized = Pick<SessionManager, "authorizedFetch">;

const JSON_HEADERS = { Accept: "application/json", "Content-Type": "application/json" } as const;

export class EmailClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  /** Verifications by token, kept once they succeed: see verify(). */
  private readonly verifications = new Map<string, Promise<void>>();

  constructor(
    authUrl: string,
    private readonly session: Authorized,
    fetchFn?: typeof fetch,
  ) {
    this.baseUrl = authUrl.replace(/\/+$/, "");
    this.fetchFn = fetchFn ?? ((...args) => globalThis.fetch(...args));
  }

  /** These routes answer 202 or 204 with no body: anything else is a problem document. */
  private async noContent(res: Response): Promise<void> {
    if (!res.ok) throw await problemFromResponse(res);
    await res.body?.cancel().catch(() => undefined);
  }

  private post(path: string, body: unknown): Promise<Response> {
    return safeFetch(this.fetchFn, `${this.baseUrl}${path}`, {
      method: "POST",
      credentials: "omit",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
  }

  /** Mails the signed-in person a new verification link: 202, or a 429 `rate_limited` (with
   * `retryAfter`) within a minute of the last one. An address already verified gets nothing. */
  async requestVerification(): Promise<void> {
    const res = await this.session.authorizedFetch(`${this.baseUrl}/api/auth/email/verify/request`, {
      method: "POST",
      credentials: "include",
      headers: { Accept: "application/json" },
    });
    return this.noContent(res);
  }

  /**
   * Uses a verification link's token. The token works once, so one that succeeded is never sent
   * again from this page: a second call with it (React's StrictMode runs a page's effects twice;
   * the page may mount again) shares the first call's promise. A failure is forgotten, so that
   * "Try again" after a network error really asks again. A used, expired or unknown token is a
   * 400 `invalid_token_link`.
   */
  verify(token: string): Promise<void> {
    let attempt = this.verifications.get(token);
    if (!attempt) {
      attempt = this.post("/api/auth/email/verify", { token }).then((res) => this.noContent(res));
      this.verifications.set(token, attempt);
      attempt.catch(() => this.verifications.delete(token));
    }
    return attempt;
  }

  /** Asks for a reset link. The service answers 202 whether or not an account has the address,
   * so success says nothing about the account (and neither may the page). */
  async requestPasswordReset(email: string): Promise<void> {
    return this.noContent(await this.post("/api/auth/password/reset/request", { email }));
  }

  /** Sets a new password with a reset link's token; every session of the account ends. A weak
   * password is a 422 on `new_password` (the sign-up codes); a used, expired or unknown token a
   * 400 `invalid_token_link`. */
  async resetPassword(input: { token: string; newPassword: string }): Promise<void> {
    const body = { token: input.token, new_password: input.newPassword };
    return this.noContent(await this.post("/api/auth/password/reset", body));
  }
}
