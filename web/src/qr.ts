/** A QR code as an image address (an SVG in a data: URL, which the app's CSP allows as an image),
 * drawn by the `qrcode` package: crisp at any size, no canvas needed. */
import { toString as qrToSvg } from "qrcode";

export async function qrImageUrl(text: string): Promise<string> {
  // Medium error correction and the standard quiet zone: what phone cameras read most reliably.
  const svg = await qrToSvg(text, { type: "svg", errorCorrectionLevel: "M", margin: 4, color: { dark: "#000000", light: "#ffffff" } });
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
