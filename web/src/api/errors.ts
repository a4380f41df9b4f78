/** The services' RFC 9457 problem documents as typed errors, plus the one failure that never
 * reaches a service: the network. */

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: FieldError[];
  /** Members a route adds of its own (`mfa_token` on a 403 `mfa_required`). */
  [member: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly fieldErrors: FieldError[];
  /** Seconds, from `Retry-After` on 429s. */
  readonly retryAfter: number | undefined;
  /** The whole problem document, for a route's own members. */
  readonly problem: Problem;

  constructor(status: number, problem: Problem, retryAfter?: number) {
    super(problem.detail || problem.title || `Request failed with status ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code ?? `http_${status}`;
    this.title = problem.title ?? "Request failed";
    this.detail = problem.detail;
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = retryAfter;
    this.problem = problem;
  }

  /** The first message for a field, if the service sent one. */
  fieldError(field: string): FieldError | undefined {
    return this.fieldErrors.find((e) => e.field === field);
  }
}

/**
 * Whether a 401 says the bearer or refresh token is no good (so a refresh may help), as opposed
 * to a refused proof of who someone is: a wrong password, code or passkey (`invalid_credentials`),
 * where refreshing would rotate the refresh token for nothing and the session is fine. A 401
 * without a readable code (a proxy's page) is taken as a refused token, as before codes existed.
 */
export function isRefusedToken(error: { status: number; code: string }): boolean {
  return error.status === 401 && (error.code === "invalid_token" || error.code === "http_401");
}

/** fetch() itself failed: offline, DNS, refused connection, CORS refusal. */
export class NetworkError extends Error {
  constructor(cause?: unknown) {
    super("The server could not be reached.");
    this.name = "NetworkError";
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return Math.ceil(secs);
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  return undefined;
}

export async function problemFromResponse(res: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    const text = await res.text();
    if (text) {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") problem = parsed as Problem;
    }
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the status alone.
  }
  return new ApiError(res.status, problem, parseRetryAfter(res.headers.get("Retry-After")));
}

/** fetch() that turns a thrown TypeError into a NetworkError (aborts pass through unchanged). */
export async function safeFetch(
  fetchFn: typeof fetch,
  input: string,
  init: RequestInit,
): Promise<Response> {
  try {
    return await fetchFn(input, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new NetworkError(err);
  }
}

export async function readJson<T>(res: Response): Promise<T> {
  if (!res.ok) throw await problemFromResponse(res);
  return (await res.json()) as T;
}
