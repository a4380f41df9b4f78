/** Putting text where the person can keep it: the clipboard, or a file they download. */

/** Resolves to whether the text reached the clipboard (a browser may refuse: no permission, an
 * insecure origin, no API at all). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard?.writeText) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** Offers `text` as a download named `filename` (plain text, UTF-8). */
export function downloadText(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the address is of no use after it.
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}
