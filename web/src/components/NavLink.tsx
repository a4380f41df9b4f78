import type { MouseEvent, ReactNode } from "react";
import { hrefOf, navigate, usePage, type Page } from "../navigation";

/** A real link to one of the app's pages (so middle-click and "open in new tab" work) that moves
 * within the app on a plain click; the page on show is marked `aria-current="page"`. `replace`
 * and `state` are navigate()'s. */
export function NavLink({
  to,
  className,
  children,
  replace,
  state,
}: {
  to: Page;
  className?: string;
  children: ReactNode;
  replace?: boolean;
  state?: Record<string, unknown>;
}) {
  const current = usePage() === to;
  function follow(event: MouseEvent<HTMLAnchorElement>) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to, { replace: replace ?? false, state: state ?? null });
  }
  return (
    <a href={hrefOf(to)} className={className} aria-current={current ? "page" : undefined} onClick={follow}>
      {children}
    </a>
  );
}
