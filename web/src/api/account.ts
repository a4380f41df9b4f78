/** The auth-service's account routes: the signed-in person's sessions and security events, their
 * password and the account itself. Every call carries the session's bearer token (the token's user is the one
 * acted on); what follows for this tab (signing out after a deletion) is the caller's to do. */
import { problemFromResponse, readJson } from "./errors";
import type { SessionManager } from "./session";

/** One place the person is signed in (a refresh-token family). Times are RFC 3339. */
export interface SessionInfo {
  id: string;
  created_at: string;
  last_used_at: string;
  /** When it ends if unused, or at its absolute limit, whichever comes first. */
  expires_at?: string | null;
  user_agent: string | null;
  ip: string | null;
  /** The session this tab's token belongs to. */
  current: boolean;
}

/** Something that happened to the account (`GET /api/auth/events`). `type` is a string, not a
 * union: the service adds types as features land, and an older app must still show them. */
export interface SecurityEvent {
  id: string;
  type: string;
  /** RFC 3339. */
  at: string;
  ip: string | null;
  user_agent: string | null;
  /** The session it happened in or to, if any. */
  session_id: string | null;
}

export interface EventPage {
  items: SecurityEvent[];
  /** The `cursor` for the next (older) page; null on the last one. */
  next_cursor: string | null;
}

type Authorized = Pick<SessionManager, "authorizedFetch">;

export class AccountClient {
  private readonly baseUrl: string;

  constructor(
    authUrl: string,
    private readonly session: Authorized,
  ) {
    this.baseUrl = authUrl.replace(/\/+$/, "");
  }

  private call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    // "include" as for /api/auth/me: the bearer token names the session, and the refresh cookie
    // (Path=/api/auth) rides along so the service may clear it when the session it names ends.
    return this.session.authorizedFetch(`${this.baseUrl}${path}`, { ...init, headers, credentials: "include" });
  }

  /** Answers 204 with no body: anything else is a problem document. */
  private async noContent(res: Response): Promise<void> {
    if (!res.ok) throw await problemFromResponse(res);
    await res.body?.cancel().catch(() => undefined);
  }

  /** The person's live sessions, most recently used first. */
  async listSessions(signal?: AbortSignal): Promise<SessionInfo[]> {
    return readJson<SessionInfo[]>(await this.call("/api/auth/sessions", signal ? { signal } : {}));
  }

  /** The person's security events, newest first, a page at a time (`limit` 1–200). */
  async listEvents(query: { limit?: number; cursor?: string | null } = {}, signal?: AbortSignal): Promise<EventPage> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    if (query.cursor) params.set("cursor", query.cursor);
    const qs = params.toString();
    return readJson<EventPage>(await this.call(`/api/auth/events${qs ? `?${qs}` : ""}`, signal ? { signal } : {}));
  }

  /** Ends one session; the task-service refuses its access tokens within seconds. */
  async endSession(id: string): Promise<void> {
    const res = await this.call(`/api/auth/sessions/${encodeURIComponent(id)}`, { method: "DELETE" });
    // Already ended (it expired, or another tab ended it) is the outcome the person asked for.
    if (res.status === 404) {
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    return this.noContent(res);
  }

  /** Ends every session of the person, this one too unless `keepCurrent`. */
  async signOutEverywhere({ keepCurrent }: { keepCurrent: boolean }): Promise<void> {
    const body = JSON.stringify({ keep_current: keepCurrent });
    return this.noContent(await this.call("/api/auth/signout-all", { method: "POST", body }));
  }

  /** Every other session ends; this one stays. A wrong current password or a weak new one is a
   * 422 whose `errors` name `current_password` / `new_password`. */
  async changePassword(input: { currentPassword: string; newPassword: string }): Promise<void> {
    const body = JSON.stringify({ current_password: input.currentPassword, new_password: input.newPassword });
    return this.noContent(await this.call("/api/auth/password", { method: "POST", body }));
  }

  /** Deletes the account, its sessions and its tasks. A wrong password is a 422 on `password`. */
  async deleteAccount(password: string): Promise<void> {
    const body = JSON.stringify({ password });
    return this.noContent(await this.call("/api/auth/me", { method: "DELETE", body }));
  }
}
