// A QR code of a link, drawn as one SVG path (no canvas, no inline script: CSP-safe).
import { encode } from "uqr";

const kQuietZone = 4; // modules of white border the standard asks for

export function QrCode({ text, label }: { text: string; label: string }) {
  const { data, size } = encode(text, { ecc: "M", border: 0 });
  let path = "";
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x + kQuietZone} ${y + kQuietZone}h1v1h-1z`;
    }),
  );
  const box = size + 2 * kQuietZone;
  return (
    <svg class="qr" viewBox={`0 0 ${box} ${box}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={box} height={box} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
