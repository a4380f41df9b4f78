/** A message for the screen's polite status region: confirmations that a screen reader reads out
 * without moving the focus. */
import { useCallback, useState } from "react";

export function useAnnouncement(): [message: string, announce: (message: string) => void] {
  const [message, setMessage] = useState("");
  const announce = useCallback((next: string) => {
    // Cleared first so the same sentence twice is still announced.
    setMessage("");
    requestAnimationFrame(() => setMessage(next));
  }, []);
  return [message, announce];
}
