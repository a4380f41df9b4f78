/** The time, renewed every `intervalMs`, so that "5 minutes ago" stays true while a page is open
 * (and render stays pure: the clock is read in a timer, not while rendering). */
import { useEffect, useState } from "react";

export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
