// The insights of one conversation as charts (content-free figures from the server's
// projection): talk balance, mirror rounds per share, the phase timeline with its pauses.
import {
  OverlayEnding,
  OverlayKind,
  Phase,
  RejectionCode,
  Role,
  type Insights,
  type OverlayInsight,
  type PartnerInsights,
  type PhaseSpan,
} from "@mend/client";
import { clockText, isOverlay, phaseWords } from "../words";
import { Chart, Swatch, count, durationWords, partnerName, percent, useFills, type Fills, type Names } from "./charts";

export function InsightsView({ insights, names }: { insights: Insights; names: Names }) {
  return (
    <div class="insights">
      <TalkBalance insights={insights} names={names} />
      <MirrorRounds insights={insights} names={names} />
      <PhaseTimeline insights={insights} names={names} />
    </div>
  );
}

const kWidth = 320;

function Legend({ fills, names, overlay = false }: { fills: Fills; names: Names; overlay?: boolean }) {
  return (
    <>
      <span>
        <Swatch fill={fills.a} /> {names.a} (solid)
      </span>
      <span>
        <Swatch fill={fills.b} /> {names.b} (striped)
      </span>
      {overlay && (
        <span>
          <Swatch fill={fills.overlay} /> pauses, time-outs and breaks (dotted)
        </span>
      )}
    </>
  );
}

function TalkBalance({ insights, names }: { insights: Insights; names: Names }) {
  const { fills, defs } = useFills();
  const a = insights.partnerA;
  const b = insights.partnerB;
  const aMs = Number(a?.floorTimeMs ?? 0n);
  const bMs = Number(b?.floorTimeMs ?? 0n);
  const total = aMs + bMs;
  const aWidth = total > 0 ? (kWidth * aMs) / total : 0;
  const caption =
    total > 0
      ? [
          `${names.a} held the floor ${percent(aMs, total)}% of the time (${durationWords(aMs)}), ${names.b} ${percent(bMs, total)}% (${durationWords(bMs)}).`,
        ]
      : ["Nobody has held the floor yet."];
  return (
    <Chart
      title="Talk balance"
      name="Talk balance"
      caption={caption}
      legend={<Legend fills={fills} names={names} />}
      drawing={
        <svg viewBox={`0 0 ${kWidth} 40`} class="bar" aria-hidden="true" focusable="false">
          {defs}
          <rect x="0" y="4" width={kWidth} height="32" rx="4" fill={fills.other} />
          {total > 0 && <rect x="0" y="4" width={aWidth} height="32" fill={fills.a} />}
          {total > 0 && <rect x={aWidth} y="4" width={kWidth - aWidth} height="32" fill={fills.b} />}
          {total > 0 && aWidth >= 40 && (
            <text x={6} y={25} class="on-dark">
              {percent(aMs, total)}%
            </text>
          )}
          {total > 0 && kWidth - aWidth >= 40 && (
            <text x={kWidth - 6} y={25} text-anchor="end" class="on-light">
              {percent(bMs, total)}%
            </text>
          )}
        </svg>
      }
      table={<PartnerTable a={a} b={b} names={names} />}
    />
  );
}

function sum(counts: readonly { count: number }[]): number {
  return counts.reduce((n, c) => n + c.count, 0);
}

function PartnerTable({ a, b, names }: { a: PartnerInsights | undefined; b: PartnerInsights | undefined; names: Names }) {
  const rows: [string, (p: PartnerInsights | undefined) => string][] = [
    ["Time holding the floor", (p) => durationWords(Number(p?.floorTimeMs ?? 0n))],
    ["Turns as the speaker", (p) => String(p?.turns ?? 0)],
    ["Shares", (p) => String(p?.shares ?? 0)],
    ["Words shared", (p) => String(p?.wordsShared ?? 0)],
    ["Mirrors given (confirmed)", (p) => `${p?.mirrorsGiven ?? 0} (${p?.mirrorsConfirmed ?? 0})`],
    ["Corrections as the speaker", (p) => String(p?.corrections ?? 0)],
    ["Pauses and time-outs called", (p) => `${p?.pauses ?? 0} and ${p?.timeOuts ?? 0}`],
    ["Time in them", (p) => durationWords(Number(p?.overlayTimeMs ?? 0n))],
    ["Signals and repairs", (p) => `${sum(p?.signals ?? [])} and ${sum(p?.repairs ?? [])}`],
    ["Tried to speak out of turn", (p) => String(sum((p?.refusals ?? []).filter((r) => r.code === RejectionCode.NOT_YOUR_TURN)))],
    ["Tries refused by the rules, in all", (p) => String(sum(p?.refusals ?? []))],
  ];
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Figure</th>
          <th scope="col">{names.a}</th>
          <th scope="col">{names.b}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td>{value(a)}</td>
            <td>{value(b)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MirrorRounds({ insights, names }: { insights: Insights; names: Names }) {
  const { fills, defs } = useFills();
  const shares = insights.shares;
  const confirmed = shares.filter((s) => s.confirmed);
  const rounds = confirmed.reduce((n, s) => n + s.mirrorRounds, 0);
  const several = confirmed.filter((s) => s.mirrorRounds > 1).length;
  const top = Math.max(3, ...shares.map((s) => s.mirrorRounds));
  const slot = shares.length > 0 ? kWidth / shares.length : kWidth;
  const barWidth = Math.max(2, Math.min(36, slot * 0.7));
  const height = 100;
  const y = (n: number) => 12 + (height - 12) * (1 - n / top);
  const caption =
    shares.length === 0
      ? ["Nothing has been shared yet."]
      : [
          `${count(shares.length, "share", "shares")}; ${confirmed.length} heard back and confirmed${
            confirmed.length > 0 ? `, after ${(rounds / confirmed.length).toFixed(1)} mirror rounds on average` : ""
          }.`,
          several > 0 ? `${count(several, "share", "shares")} took more than one round.` : "",
          shares.length > confirmed.length ? `${count(shares.length - confirmed.length, "share is", "shares are")} not confirmed (drawn as an outline).` : "",
        ].filter(Boolean);
  return (
    <Chart
      title="Mirror rounds per share"
      name="Mirror rounds"
      caption={caption}
      legend={<Legend fills={fills} names={names} />}
      drawing={
        <svg viewBox={`0 0 ${kWidth} ${height + 16}`} class="bars" aria-hidden="true" focusable="false">
          {defs}
          <line x1="0" x2={kWidth} y1={y(0)} y2={y(0)} stroke="#4f5863" />
          {[1, 2, 3].map((n) => (
            <line key={n} x1="0" x2={kWidth} y1={y(n)} y2={y(n)} stroke="#d6d3cc" stroke-dasharray="3 3" />
          ))}
          {shares.map((s, i) => {
            const x = i * slot + (slot - barWidth) / 2;
            const fill = s.speaker === Role.PARTNER_B ? fills.b : fills.a;
            const h = Math.max(y(0) - y(Math.max(s.mirrorRounds, 0.15)), 2);
            return (
              <g key={String(s.seq)}>
                <rect
                  x={x}
                  y={y(0) - h}
                  width={barWidth}
                  height={h}
                  fill={s.confirmed ? fill : "none"}
                  stroke={s.confirmed ? "none" : "#4f5863"}
                  stroke-dasharray={s.confirmed ? undefined : "3 2"}
                />
                {slot >= 14 && (
                  <text x={x + barWidth / 2} y={y(0) - h - 3} text-anchor="middle">
                    {s.mirrorRounds}
                  </text>
                )}
                {slot >= 14 && (
                  <text x={x + barWidth / 2} y={height + 14} text-anchor="middle" class="muted">
                    {i + 1}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      }
      table={
        <table>
          <thead>
            <tr>
              <th scope="col">Share</th>
              <th scope="col">Who</th>
              <th scope="col">Words</th>
              <th scope="col">Mirror rounds</th>
              <th scope="col">Corrections</th>
              <th scope="col">"You got it" after</th>
            </tr>
          </thead>
          <tbody>
            {shares.map((s, i) => (
              <tr key={String(s.seq)}>
                <th scope="row">{i + 1}</th>
                <td>{partnerName(s.speaker, names)}</td>
                <td>{s.words}</td>
                <td>{s.mirrorRounds}</td>
                <td>{s.corrections}</td>
                <td>{s.confirmed ? durationWords(Number(s.toConfirmationMs)) : s.retracted ? "taken back" : "not yet"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}

const kStagePhases = new Set([Phase.SPEAKING, Phase.MIRRORING, Phase.CONFIRMING, Phase.MORE, Phase.SUMMARY, Phase.VALIDATION, Phase.EMPATHY]);

/** One stretch of the timeline: consecutive spans of one kind (a turn, an overlay, a phase). */
interface Stretch {
  label: string;
  startMs: number;
  endMs: number;
  fill: keyof Fills;
}

function stretches(insights: Insights, names: Names): { list: Stretch[]; startMs: number; endMs: number } {
  const spans = insights.timeline;
  const endOfAll = Number(insights.closedMs || insights.asOfMs);
  const list: Stretch[] = [];
  spans.forEach((span: PhaseSpan, i) => {
    const startMs = Number(span.startedMs);
    const next = spans[i + 1];
    const endMs = next ? Number(next.startedMs) : Math.max(endOfAll, startMs + Number(span.durationMs));
    const turn = kStagePhases.has(span.phase);
    const fill: keyof Fills = isOverlay(span.phase) ? "overlay" : turn ? (span.speaker === Role.PARTNER_B ? "b" : "a") : "other";
    const label = turn ? `${partnerName(span.speaker, names)}'s turn` : phaseWords(span.phase);
    const last = list[list.length - 1];
    if (last && last.label === label && last.fill === fill) last.endMs = endMs;
    else list.push({ label, startMs, endMs, fill });
  });
  const startMs = list[0]?.startMs ?? 0;
  return { list, startMs, endMs: Math.max(list[list.length - 1]?.endMs ?? 0, startMs) };
}

const kOverlayWords: Record<OverlayKind, string> = {
  [OverlayKind.OVERLAY_KIND_UNSPECIFIED]: "a pause",
  [OverlayKind.OVERLAY_PAUSE]: "a short pause",
  [OverlayKind.OVERLAY_TIME_OUT]: "a time-out",
  [OverlayKind.OVERLAY_CONSULT_BREAK]: "a consultation break",
};

const kEndingWords: Record<OverlayEnding, string> = {
  [OverlayEnding.OVERLAY_ENDING_UNSPECIFIED]: "still going on",
  [OverlayEnding.OVERLAY_RETURNED_EARLY]: "came back early",
  [OverlayEnding.OVERLAY_WAITED_OUT]: "took the whole time",
  [OverlayEnding.OVERLAY_SUSPENDED]: "paused until a new time",
  [OverlayEnding.OVERLAY_CONVERSATION_CLOSED]: "the conversation ended during it",
  [OverlayEnding.OVERLAY_ESCALATED]: "became a time-out",
};

function overlayWords(o: OverlayInsight, names: Names, startMs: number): string {
  const who = o.caller === Role.OBSERVER ? "The counselor" : partnerName(o.caller, names);
  const length = o.durationMs > 0n ? ` for ${durationWords(Number(o.durationMs))}` : "";
  return `${who} called ${kOverlayWords[o.kind]} at ${clockText(Number(o.startedMs) - startMs)}${length}: ${kEndingWords[o.ending]}.`;
}

function PhaseTimeline({ insights, names }: { insights: Insights; names: Names }) {
  const { fills, defs } = useFills();
  const { list, startMs, endMs } = stretches(insights, names);
  const span = Math.max(1, endMs - startMs);
  const x = (ms: number) => (kWidth * (ms - startMs)) / span;
  const overlays = insights.overlays;
  const turns = (role: Role) => list.filter((s) => s.label === `${partnerName(role, names)}'s turn`).reduce((n, s) => n + s.endMs - s.startMs, 0);
  const caption =
    list.length === 0
      ? ["The conversation has not started yet."]
      : [
          `${durationWords(endMs - startMs)} from the start${insights.closedMs > 0n ? " to the end" : " so far"}: ${names.a}'s turns took ${durationWords(turns(Role.PARTNER_A))}, ${names.b}'s ${durationWords(turns(Role.PARTNER_B))}.`,
          overlays.length > 0 ? `${count(overlays.length, "pause, time-out or break", "pauses, time-outs or breaks")}, marked with a triangle.` : "No pauses.",
        ];
  return (
    <Chart
      title="How the conversation went"
      name="The timeline"
      caption={caption}
      legend={<Legend fills={fills} names={names} overlay />}
      drawing={
        <svg viewBox={`0 0 ${kWidth} 64`} class="timeline-chart" aria-hidden="true" focusable="false">
          {defs}
          {list.map((s, i) => (
            <rect key={i} x={x(s.startMs)} y="16" width={Math.max(0.5, x(s.endMs) - x(s.startMs))} height="28" fill={fills[s.fill]} />
          ))}
          {overlays.map((o, i) => {
            const at = x(Number(o.startedMs));
            return <path key={i} d={`M ${at - 5} 2 L ${at + 5} 2 L ${at} 12 Z`} fill="#a33a1c" />;
          })}
          <text x="0" y="60">
            0:00
          </text>
          <text x={kWidth} y="60" text-anchor="end">
            {clockText(endMs - startMs)}
          </text>
        </svg>
      }
      table={
        <>
          <table>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {list.map((s, i) => (
                <tr key={i}>
                  <td>{clockText(s.startMs - startMs)}</td>
                  <td>{clockText(s.endMs - startMs)}</td>
                  <th scope="row">{s.label}</th>
                </tr>
              ))}
            </tbody>
          </table>
          {overlays.length > 0 && (
            <ul>
              {overlays.map((o, i) => (
                <li key={i}>{overlayWords(o, names, startMs)}</li>
              ))}
            </ul>
          )}
        </>
      }
    />
  );
}
