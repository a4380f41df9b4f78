import { useEffect, useId, useRef, type ReactNode } from "react";
import { Logo } from "./Logo";

/**
 * The look of the pages one reaches signed out (sign-in, "Forgot password?", a mailed link's
 * page): the brand above one card with the page's heading. When `focusKey` changes to a value
 * (a result took the form's place) the heading takes the keyboard focus, so a screen reader reads
 * where the person now is and Tab starts from there.
 */
export function AuthLayout({
  title,
  lead,
  focusKey,
  busy,
  children,
}: {
  title: string;
  lead?: ReactNode;
  focusKey?: string | undefined;
  busy?: boolean;
  children?: ReactNode;
}) {
  const headingId = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (focusKey !== undefined) headingRef.current?.focus();
  }, [focusKey]);

  return (
    <main className="auth">
      <div className="auth-brand">
        <Logo />
        <span>Tasks</span>
      </div>
      <section className="card auth-card" aria-labelledby={headingId} aria-busy={busy || undefined}>
        <h1 id={headingId} ref={headingRef} tabIndex={-1}>
          {title}
        </h1>
        {lead && <p className="muted">{lead}</p>}
        {children}
      </section>
    </main>
  );
}
