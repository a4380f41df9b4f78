/** Where the two services live. Read at run time from `config.json` beside the app so that one
 * built bundle serves any deployment; the defaults are the services' own default addresses. */
export interface AppConfig {
  authUrl: string;
  tasksUrl: string;
}

export const DEFAULT_CONFIG: AppConfig = {
  authUrl: "http://localhost:8081",
  tasksUrl: "http://localhost:8082",
};

function cleanUrl(value: unknown, fallback: string): string {
  if (typeof value !== "string" || value.trim() === "") return fallback;
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") return fallback;
    return url.toString().replace(/\/+$/, "");
  } catch {
    return fallback;
  }
}

/** Merges whatever the file holds over the defaults; a missing, unreadable or non-JSON file
 * (an SPA server answering index.html for it, say) simply means "use the defaults". */
export function parseConfig(raw: unknown): AppConfig {
  const obj = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  return {
    authUrl: cleanUrl(obj.authUrl, DEFAULT_CONFIG.authUrl),
    tasksUrl: cleanUrl(obj.tasksUrl, DEFAULT_CONFIG.tasksUrl),
  };
}

export async function loadConfig(
  url = `${import.meta.env?.BASE_URL ?? "/"}config.json`,
  fetchFn: typeof fetch = fetch,
): Promise<AppConfig> {
  try {
    const res = await fetchFn(url, { cache: "no-store", credentials: "same-origin" });
    if (!res.ok) return { ...DEFAULT_CONFIG };
    const text = await res.text();
    return parseConfig(JSON.parse(text));
  } catch {
    return { ...DEFAULT_CONFIG };
  }
}
