// Trends across a series (the same couple over several conversations, GET
// /v1/series/{id}/insights with the counselor's key): the talk balance, mirror rounds per
// share and pauses of each conversation, oldest first, as three small line charts.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { HttpClient, Insights } from "@mend/client";
import { errorWords } from "../errors";
import { Chart, count, percent, useFills, type Names } from "./charts";

const kNames: Names = { a: "Partner A", b: "Partner B" };

/** One conversation's figure; `value` undefined when it has none yet (drawn as a gap). */
interface Point {
  label: string;
  value: number | undefined;
  text: string;
}

export function SeriesTrends({ client, seriesId }: { client: HttpClient; seriesId: string }) {
  const conversations = useSignal<readonly Insights[] | undefined>(undefined);
  const problem = useSignal("");
  useEffect(() => {
    client
      .getSeriesInsights(seriesId)
      .then((answer) => (conversations.value = answer.conversations))
      .catch((e: unknown) => (problem.value = errorWords(e)));
  }, [client, seriesId]);

  const list = conversations.value;
  if (!list) return <p role="status">{problem.value || "Gathering the series' figures..."}</p>;
  const label = (c: Insights, i: number) => `${i + 1} (${new Date(Number(c.createdMs)).toLocaleDateString()})`;
  const balance = list.map((c, i) => {
    const a = Number(c.partnerA?.floorTimeMs ?? 0n);
    const total = a + Number(c.partnerB?.floorTimeMs ?? 0n);
    return { label: label(c, i), value: total > 0 ? percent(a, total) : undefined, text: total > 0 ? `${percent(a, total)}%` : "no floor time yet" };
  });
  const rounds = list.map((c, i) => {
    const confirmed = c.shares.filter((s) => s.confirmed);
    const value = confirmed.length > 0 ? confirmed.reduce((n, s) => n + s.mirrorRounds, 0) / confirmed.length : 0;
    return { label: label(c, i), value: confirmed.length > 0 ? value : undefined, text: confirmed.length > 0 ? `${value.toFixed(1)} rounds` : "none confirmed" };
  });
  const pauses = list.map((c, i) => {
    const value = (c.partnerA?.pauses ?? 0) + (c.partnerA?.timeOuts ?? 0) + (c.partnerB?.pauses ?? 0) + (c.partnerB?.timeOuts ?? 0);
    return { label: label(c, i), value, text: String(value) };
  });
  return (
    <div class="insights trends">
      <Trend title={`${kNames.a}'s share of the floor`} unit="%" points={balance} top={100} reference={50} />
      <Trend title="Mirror rounds per confirmed share" unit="" points={rounds} top={Math.max(3, ...rounds.map((p) => p.value ?? 0))} />
      <Trend title="Pauses and time-outs" unit="" points={pauses} top={Math.max(3, ...pauses.map((p) => p.value ?? 0))} />
    </div>
  );
}

const kW = 320;
const kH = 90;

function Trend({ title, unit, points, top, reference }: { title: string; unit: string; points: Point[]; top: number; reference?: number }) {
  const { fills, defs } = useFills();
  const x = (i: number) => (points.length > 1 ? 16 + ((kW - 32) * i) / (points.length - 1) : kW / 2);
  const y = (v: number) => 18 + (kH - 26) * (1 - v / top);
  const known = points.filter((p) => p.value !== undefined);
  const first = known[0];
  const last = known[known.length - 1];
  const caption =
    first && last && known.length > 1
      ? [`From ${first.text} to ${last.text} over ${count(known.length, "conversation", "conversations")} with figures, oldest first.`]
      : [first ? `${first.text} in the one conversation with figures so far.` : "No figures yet."];
  return (
    <Chart
      title={title}
      name={title}
      caption={caption}
      drawing={
        <svg viewBox={`0 0 ${kW} ${kH + 14}`} class="trend" aria-hidden="true" focusable="false">
          {defs}
          <line x1="0" x2={kW} y1={y(0)} y2={y(0)} stroke="#4f5863" />
          {reference !== undefined && <line x1="0" x2={kW} y1={y(reference)} y2={y(reference)} stroke="#8a8f96" stroke-dasharray="4 3" />}
          {runs(points).map((run, r) => (
            <polyline key={r} points={run.map((i) => `${x(i)},${y(points[i]?.value ?? 0)}`).join(" ")} fill="none" stroke={fills.a} stroke-width="2" />
          ))}
          {points.map((p, i) => (
            <g key={i}>
              {p.value !== undefined && (
                <>
                  <circle cx={x(i)} cy={y(p.value)} r="4" fill={fills.a} />
                  <text x={x(i)} y={y(p.value) - 7} text-anchor="middle">
                    {Math.round(p.value * 10) / 10}
                    {unit}
                  </text>
                </>
              )}
              <text x={x(i)} y={kH + 12} text-anchor="middle" class="muted">
                {i + 1}
              </text>
            </g>
          ))}
        </svg>
      }
      table={
        <table>
          <thead>
            <tr>
              <th scope="col">Conversation</th>
              <th scope="col">{title}</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.label}>
                <th scope="row">{p.label}</th>
                <td>{p.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}

/** The indexes of consecutive points with a value: each run is one line, gaps stay gaps. */
function runs(points: Point[]): number[][] {
  const all: number[][] = [];
  let current: number[] = [];
  points.forEach((p, i) => {
    if (p.value === undefined) {
      if (current.length > 0) all.push(current);
      current = [];
    } else current.push(i);
  });
  if (current.length > 0) all.push(current);
  return all;
}
