/** The app's two pages as real URLs ("/" and "/account"), so a reload or a shared link lands on
 * the same page and Back works. history.pushState plus popstate; no router library for two
 * paths. The dev server and the Docker nginx answer unknown paths with index.html. */
import { useSyncExternalStore } from "react";

export type Page = "tasks" | "account";

const PATHS: Record<Page, string> = { tasks: "/", account: "/account" };

/** Where the app is served from (Vite's `base`), without the trailing slash. */
const BASE = (import.meta.env?.BASE_URL ?? "/").replace(/\/+$/, "");

export const hrefOf = (page: Page) => `${BASE}${PATHS[page]}`;

/** The page a path shows; anything unknown is the task list. */
export function pageOf(pathname: string): Page {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  return path.replace(/\/+$/, "") === PATHS.account ? "account" : "tasks";
}

const listeners = new Set<() => void>();

/** Shows `page`: a new history entry, or the current one replaced. */
export function navigate(page: Page, { replace = false }: { replace?: boolean } = {}) {
  const href = hrefOf(page);
  if (window.location.pathname === href) return;
  if (replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

/** The page the address bar names, following navigate() and Back/Forward. */
export function usePage(): Page {
  return useSyncExternalStore(subscribe, () => pageOf(window.location.pathname));
}
