/** The task-service's primary routes (`/api/tasks`), called with the session's bearer token. */
import { readJson, problemFromResponse } from "./errors";
import type { SessionManager } from "./session";

export interface Task {
  id: string;
  title: string;
  description: string | null;
  completed: boolean;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface TaskPage {
  items: Task[];
  next_cursor: string | null;
}

export type StatusFilter = "all" | "pending" | "completed";

export interface ListQuery {
  status?: StatusFilter;
  q?: string;
  sort?: string;
  limit?: number;
  cursor?: string | null;
}

export interface TaskPatch {
  title?: string;
  description?: string | null;
  completed?: boolean;
}

type Authorized = Pick<SessionManager, "authorizedFetch">;

export class TasksClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly session: Authorized,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  private call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    // No cookies go to the task-service: the bearer token is the whole credential.
    return this.session.authorizedFetch(`${this.baseUrl}${path}`, {
      ...init,
      headers,
      credentials: "omit",
    });
  }

  async list(query: ListQuery = {}, signal?: AbortSignal): Promise<TaskPage> {
    const params = new URLSearchParams();
    if (query.status && query.status !== "all") params.set("status", query.status);
    const q = query.q?.trim();
    if (q) params.set("q", q);
    if (query.sort) params.set("sort", query.sort);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    if (query.cursor) params.set("cursor", query.cursor);
    const qs = params.toString();
    const init: RequestInit = signal ? { signal } : {};
    return readJson<TaskPage>(await this.call(`/api/tasks${qs ? `?${qs}` : ""}`, init));
  }

  async create(input: { title: string; description?: string | null }): Promise<Task> {
    const body: Record<string, string> = { title: input.title };
    if (input.description && input.description.trim() !== "") body.description = input.description;
    return readJson<Task>(await this.call("/api/tasks", { method: "POST", body: JSON.stringify(body) }));
  }

  async update(id: string, patch: TaskPatch): Promise<Task> {
    return readJson<Task>(
      await this.call(`/api/tasks/${encodeURIComponent(id)}`, {
        method: "PATCH",
        body: JSON.stringify(patch),
      }),
    );
  }

  async remove(id: string): Promise<void> {
    const res = await this.call(`/api/tasks/${encodeURIComponent(id)}`, { method: "DELETE" });
    // Already gone (another tab deleted it) is the outcome the person asked for.
    if (res.ok || res.status === 404) {
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    throw await problemFromResponse(res);
  }
}
