/** The app's pages as real URLs, so a reload or a shared link lands on the same page and Back
 * works: "/" and "/account" for the signed-in person, and the pages a mailed link or "Forgot
 * password?" opens, which work signed in or out. history.pushState plus popstate; no router
 * library for five paths. The dev server and the Docker nginx answer unknown paths with
 * index.html. */
import { useSyncExternalStore } from "react";

export type Page = "tasks" | "account" | "forgot-password" | "reset-password" | "verify-email";

const PATHS: Record<Page, string> = {
  tasks: "/",
  account: "/account",
  "forgot-password": "/forgot-password",
  "reset-password": "/reset-password",
  "verify-email": "/verify-email",
};

/** Pages that do not need a session: they show the same signed in or out. */
export const isPublicPage = (page: Page) =>
  page === "forgot-password" || page === "reset-password" || page === "verify-email";

/** Where the app is served from (Vite's `base`), without the trailing slash. */
const BASE = (import.meta.env?.BASE_URL ?? "/").replace(/\/+$/, "");

export const hrefOf = (page: Page) => `${BASE}${PATHS[page]}`;

/** The page a path shows; anything unknown is the task list. */
export function pageOf(pathname: string): Page {
  const path = (pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname).replace(/\/+$/, "");
  const found = (Object.keys(PATHS) as Page[]).find((page) => page !== "tasks" && PATHS[page] === path);
  return found ?? "tasks";
}

/** A parameter of the address's query (a mailed link's `token`), or "" without one. */
export const queryParam = (name: string) => new URLSearchParams(window.location.search).get(name) ?? "";

/** A string the page before handed this one through navigate()'s `state`, or "". */
export function handedOver(key: string): string {
  const state: unknown = window.history.state;
  const value = state && typeof state === "object" ? (state as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" ? value : "";
}

const listeners = new Set<() => void>();

/** Shows `page`: a new history entry, or the current one replaced (a used link's address, say,
 * which Back should not return to). `state` travels with the entry (history.state), so what a
 * page was handed survives a reload. */
export function navigate(
  page: Page,
  { replace = false, state = null }: { replace?: boolean; state?: Record<string, unknown> | null } = {},
) {
  const href = hrefOf(page);
  if (window.location.pathname === href && !window.location.search) return;
  if (replace) window.history.replaceState(state, "", href);
  else window.history.pushState(state, "", href);
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
