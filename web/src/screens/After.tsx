// After: how it ended, the transcript (when allowed), the audit log, and the privacy actions
// (erase my contributions; erase the room, which needs both partners), each explained first.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  AuditKind,
  Role,
  RoomErasureStatus,
  type AuditEntry,
  type ConversationSummary,
  type Event,
  type Insights,
  type RoomView,
} from "@mend/client";
import { InsightsView } from "../components/Insights";
import { Notice } from "../components/Notice";
import { Timeline } from "../components/Timeline";
import { errorWords } from "../errors";
import { http } from "../server";
import type { RoomSession } from "../session";
import { closedWords, nameOf, namesOf } from "../words";
import { SummaryPage } from "./Summary";

export function After({ session, view }: { session: RoomSession; view: RoomView }) {
  const transcript = useSignal<readonly Event[] | undefined>(undefined);
  const audit = useSignal<readonly AuditEntry[] | undefined>(undefined);
  const message = useSignal("");
  const problem = useSignal("");
  const confirming = useSignal<"" | "mine" | "room">("");
  const insights = useSignal<Insights | undefined>(undefined);
  const insightsProblem = useSignal("");
  const summary = useSignal<ConversationSummary | undefined>(undefined);
  const reading = useSignal(false);
  const partner = view.you?.role === Role.PARTNER_A || view.you?.role === Role.PARTNER_B;
  const room = session.roomId.value;
  const token = session.token;

  async function run<T>(call: () => Promise<T>, done: (value: T) => void) {
    problem.value = "";
    try {
      done(await call());
    } catch (e) {
      problem.value = errorWords(e);
    }
  }

  useEffect(() => {
    if (!room) return;
    http
      .getInsights(room, token)
      .then((answer) => (insights.value = answer.insights))
      .catch((e: unknown) => (insightsProblem.value = errorWords(e)));
  }, [room, token]);

  if (reading.value && summary.value) return <SummaryPage summary={summary.value} onBack={() => (reading.value = false)} />;

  return (
    <main class="screen after">
      <h1>{closedWords(view.closedReason)}</h1>
      <p class="lead">Thank you for staying with it. Whatever was said here, it took courage to listen and to be heard.</p>
      <section class="card stack" aria-labelledby="summary-title">
        <h2 id="summary-title">Your summary</h2>
        <p>
          {partner
            ? "What each of you said and the other confirmed hearing, your appreciations and what you agreed: a page to print or save as a PDF."
            : "What each partner said and the other confirmed hearing, when both partners chose to share it with you."}{" "}
          Opening it is noted in the audit log.
        </p>
        <button
          type="button"
          onClick={() =>
            run(
              () => http.getSummary(room, token),
              (answer) => {
                summary.value = answer.summary;
                reading.value = true;
              },
            )
          }
        >
          Open the summary
        </button>
      </section>
      <section class="card stack" aria-labelledby="insights-title">
        <h2 id="insights-title">{partner ? "How you listened" : "How they listened"}</h2>
        <p>Figures only, never words: who held the floor, how many rounds a mirror took, and the pauses.</p>
        {insights.value ? (
          <InsightsView insights={insights.value} names={namesOf(view)} />
        ) : (
          <p role="status">{insightsProblem.value || "Gathering the figures..."}</p>
        )}
      </section>
      <section class="card stack" aria-labelledby="transcript-title">
        <h2 id="transcript-title">The transcript</h2>
        <p>What was said, without anything taken back. Every export is noted in the audit log.</p>
        <button type="button" onClick={() => run(() => http.getTranscript(room, token), (t) => (transcript.value = t.events))}>
          Show the transcript
        </button>
        {transcript.value && <Timeline events={transcript.value} view={view} />}
      </section>
      {partner && (
        <section class="card stack" aria-labelledby="audit-title">
          <h2 id="audit-title">The audit log</h2>
          <p>Who joined, consented, paused or exported, and when. It never holds what anyone said.</p>
          <button type="button" onClick={() => run(() => http.getAudit(room, token), (a) => (audit.value = a.entries))}>
            Show the audit log
          </button>
          {audit.value && (
            <ol class="audit">
              {audit.value.map((entry, i) => (
                <li key={i}>
                  <time>{new Date(Number(entry.atMs)).toLocaleString()}</time> {nameOf(entry.actor, view)}:{" "}
                  {AuditKind[entry.kind].replace(/^AUDIT_/, "").toLowerCase().replace(/_/g, " ")}
                  {entry.observer && ` (${entry.observer})`}
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
      {partner && (
        <section class="card stack" aria-labelledby="privacy-title">
          <h2 id="privacy-title">Your privacy</h2>
          <p>
            <strong>Erase my words</strong> replaces everything you wrote with "erased", for everyone, for good. The
            shape of the conversation (who spoke when) stays.
          </p>
          <p>
            <strong>Erase the whole conversation</strong> needs both of you: when you both ask, its key is destroyed and
            nothing of what was said can be read again. Only the audit log stays.
          </p>
          {confirming.value === "" && (
            <div class="row">
              <button type="button" onClick={() => (confirming.value = "mine")}>
                Erase my words...
              </button>
              <button type="button" class="danger" onClick={() => (confirming.value = "room")}>
                Erase the whole conversation...
              </button>
            </div>
          )}
          {confirming.value === "mine" && (
            <div class="row" role="group" aria-label="Erase your words?">
              <span>Erase everything you wrote? This can't be undone.</span>
              <button
                type="button"
                class="danger"
                onClick={() =>
                  run(
                    () => http.eraseContributions(room, token),
                    (r) => {
                      message.value = `Done: ${r.erasedEvents} of your messages were erased.`;
                      confirming.value = "";
                    },
                  )
                }
              >
                Yes, erase my words
              </button>
              <button type="button" onClick={() => (confirming.value = "")}>
                Keep them
              </button>
            </div>
          )}
          {confirming.value === "room" && (
            <div class="row" role="group" aria-label="Erase the whole conversation?">
              <span>Ask to erase the whole conversation? It is erased once your partner asks too.</span>
              <button
                type="button"
                class="danger"
                onClick={() =>
                  run(
                    () => http.eraseRoom(room, token),
                    (r) => {
                      message.value =
                        r.status === RoomErasureStatus.ERASED
                          ? "The conversation is erased."
                          : "Your request is noted. It will be erased when your partner asks too.";
                      confirming.value = "";
                    },
                  )
                }
              >
                Yes, ask to erase it
              </button>
              <button type="button" onClick={() => (confirming.value = "")}>
                Keep it
              </button>
            </div>
          )}
          {session.erasureRequestedBy.value && (
            <Notice tone="info">{nameOf(session.erasureRequestedBy.value, view)} asked to erase the whole conversation.</Notice>
          )}
          {message.value && <Notice tone="info">{message.value}</Notice>}
        </section>
      )}
      {problem.value && <Notice tone="error">{problem.value}</Notice>}
    </main>
  );
}
