// Building blocks of the insights charts: SVG drawn by the app (no chart library), each chart a
// figure whose caption says in a sentence what it shows and whose figures are also a table
// (the text equivalent, for screen readers and for anyone who would rather read). Partner B is
// drawn hatched and overlays dotted, so colour never carries meaning alone. No style attributes:
// the page's CSP allows no inline style (SVG presentation attributes are not styles).
import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";
import { Role } from "@mend/client";

/** The partners' names as the viewer knows them ("Partner A"/"Partner B" without a room view). */
export interface Names {
  a: string;
  b: string;
}

export function partnerName(role: Role, names: Names): string {
  return role === Role.PARTNER_B ? names.b : role === Role.PARTNER_A ? names.a : "The counselor";
}

/** The fills of a chart: ids unique on the page, one set per chart. */
export interface Fills {
  a: string;
  b: string;
  overlay: string;
  other: string;
}

/** SVG <defs> with the chart's patterns; returns the fill of each kind of mark. */
export function useFills(): { fills: Fills; defs: ComponentChildren } {
  const id = useId();
  const hatch = `${id}-hatch`;
  const dots = `${id}-dots`;
  return {
    fills: { a: "#2f5d50", b: `url(#${hatch})`, overlay: `url(#${dots})`, other: "#e3e0d8" },
    defs: (
      <defs>
        <pattern id={hatch} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="6" height="6" fill="#f3e3c3" />
          <rect width="3" height="6" fill="#8a5a00" />
        </pattern>
        <pattern id={dots} width="6" height="6" patternUnits="userSpaceOnUse">
          <rect width="6" height="6" fill="#f6dcd3" />
          <circle cx="3" cy="3" r="1.6" fill="#a33a1c" />
        </pattern>
      </defs>
    ),
  };
}

/** A small swatch for a legend, drawn like the marks it stands for (the chart's own patterns). */
export function Swatch({ fill }: { fill: string }) {
  return (
    <svg class="swatch" viewBox="0 0 14 14" width="14" height="14" aria-hidden="true" focusable="false">
      <rect x="0.5" y="0.5" width="13" height="13" rx="2" fill={fill} stroke="#4f5863" stroke-width="1" />
    </svg>
  );
}

/**
 * A chart: its title, the drawing (an image named by the caption), the caption's sentences and
 * the table of its figures under a disclosure.
 */
export function Chart(props: { title: string; caption: string[]; drawing: ComponentChildren; legend?: ComponentChildren; table: ComponentChildren; name: string }) {
  const id = useId();
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{props.title}</h3>
      <div class="drawing" role="img" aria-labelledby={`${id}-caption`}>
        {props.drawing}
      </div>
      {props.legend && (
        <p class="legend" aria-hidden="true">
          {props.legend}
        </p>
      )}
      <figcaption id={`${id}-caption`}>
        {props.caption.map((line, i) => (
          <span class="line" key={i}>
            {line}
          </span>
        ))}
      </figcaption>
      <details class="figures">
        <summary>{props.name} as a table</summary>
        {props.table}
      </details>
    </figure>
  );
}

/** "45 s", "4 min 10 s", "1 h 5 min": a length of time in plain words. */
export function durationWords(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((100 * part) / whole) : 0;
}

/** "1 pause", "3 pauses". */
export function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
