// The summary a couple keeps (GET /v1/rooms/{id}/summary, at CLOSED): per turn what the speaker
// said and the listener confirmed hearing, the appreciations, what was agreed. Made to print:
// its controls are left out of print and each turn stays on one page where it fits.
import { useEffect, useRef } from "preact/hooks";
import { Role, type ConversationSummary } from "@mend/client";

export function SummaryPage({ summary, onBack }: { summary: ConversationSummary; onBack: () => void }) {
  const name = (role: Role) => (role === Role.PARTNER_B ? summary.partnerBName || "Partner B" : summary.partnerAName || "Partner A");
  const listener = (role: Role) => name(role === Role.PARTNER_A ? Role.PARTNER_B : Role.PARTNER_A);
  const empty = summary.turns.every((t) => t.confirmedWords.length === 0 && t.confirmedReflections.length === 0) &&
    summary.appreciations.length === 0 && summary.agreements.length === 0;
  // A new page: focus goes to its title, so a screen reader starts reading there.
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), []);
  const closed = summary.closedMs > 0n ? new Date(Number(summary.closedMs)).toLocaleDateString(undefined, { dateStyle: "long" }) : "";
  return (
    <main class="screen summary">
      <nav class="row no-print" aria-label="Summary">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button type="button" class="primary" onClick={() => print()}>
          Print or save as PDF
        </button>
      </nav>
      <header>
        <h1 ref={title} tabIndex={-1}>
          What you heard each other say
        </h1>
        <p class="lead">
          {name(Role.PARTNER_A)} and {name(Role.PARTNER_B)}
          {closed && `, ${closed}`}
        </p>
      </header>
      {empty && (
        <p class="card">
          There are no words to keep from this conversation: they were taken back, erased, or deleted when the time you
          agreed to keep them ran out.
        </p>
      )}
      {summary.turns
        .filter((t) => t.confirmedWords.length > 0 || t.confirmedReflections.length > 0)
        .map((turn, i) => (
          <section class="turn" key={i} aria-labelledby={`turn-${i}`}>
            <h2 id={`turn-${i}`}>
              {turn.stageTitle ? `${turn.stageTitle}: ` : ""}
              {name(turn.speaker)} spoke, {listener(turn.speaker)} listened
            </h2>
            {turn.confirmedWords.length > 0 && (
              <>
                <h3>{name(turn.speaker)} said</h3>
                <ul class="said">
                  {turn.confirmedWords.map((text, j) => (
                    <li key={j}>{text}</li>
                  ))}
                </ul>
              </>
            )}
            {turn.confirmedReflections.length > 0 && (
              <>
                <h3>{listener(turn.speaker)} heard, and {name(turn.speaker)} confirmed</h3>
                <ul class="heard">
                  {turn.confirmedReflections.map((text, j) => (
                    <li key={j}>{text}</li>
                  ))}
                </ul>
              </>
            )}
          </section>
        ))}
      {summary.appreciations.length > 0 && (
        <section class="turn" aria-labelledby="appreciations">
          <h2 id="appreciations">What you appreciate in each other</h2>
          <ul class="said">
            {summary.appreciations.map((a, i) => (
              <li key={i}>
                <span class="who">{name(a.from)}:</span> {a.text}
              </li>
            ))}
          </ul>
        </section>
      )}
      {summary.agreements.length > 0 && (
        <section class="turn" aria-labelledby="agreements">
          <h2 id="agreements">What you agreed</h2>
          <ul class="said">
            {summary.agreements.map((a, i) => (
              <li key={i}>
                {a.text} <span class="muted">(proposed by {name(a.proposedBy)})</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <footer class="muted small">
        Kept by you. mend notes in the audit log that this summary was opened, never what it says.
      </footer>
    </main>
  );
}
