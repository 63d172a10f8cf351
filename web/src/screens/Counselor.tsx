// Counselor: the conversation read-only once both partners consented; private notes only the
// counselor sees; prompts and a consultation break where the view allows them.
import { useSignal } from "@preact/signals";
import { Action, ObserverStatus, type RoomView } from "@mend/client";
import { ActionButtons } from "../components/ActionButtons";
import { Composer } from "../components/Composer";
import { FloorBanner } from "../components/FloorBanner";
import { InsightsView } from "../components/Insights";
import { Notice } from "../components/Notice";
import { OverlayPanel } from "../components/OverlayPanel";
import { Presence } from "../components/Presence";
import { Timeline } from "../components/Timeline";
import { storedApiKey } from "../counselor";
import { kDashboardHash } from "../invite";
import type { RoomSession } from "../session";
import { namesOf } from "../words";

const kBreakChoices = [300, 600, 900, 1800];

export function Counselor({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const me = view.participants.find((p) => p.actor?.observer === view.you?.observer);
  const joined = me?.observerStatus === ObserverStatus.OBSERVER_JOINED;
  const breakS = useSignal(kBreakChoices[0]!);
  const ending = useSignal(false);
  return (
    <main class="screen counselor">
      {storedApiKey() !== undefined && (
        <nav class="no-print" aria-label="Counselor">
          <a href={kDashboardHash}>Back to your caseload</a>
        </nav>
      )}
      <h1>Observing{view.topic ? `: ${view.topic}` : ""}</h1>
      <p class="lead">You see the conversation as it happens. The partners always see that you are here. Your notes are private: only you ever see them.</p>
      <Presence view={view} online={session.online.value} live={session.connection.value === "online"} />
      {!joined && !allowed.has(Action.JOIN) && (
        <p role="status" class="card">
          You can join once both partners have agreed to have you observe.
          {me && ` (${me.approvedByA ? "one partner agreed" : ""}${me.approvedByA && me.approvedByB ? ", " : ""}${me.approvedByB ? "one partner agreed" : ""})`}
        </p>
      )}
      <ActionButtons session={session} view={view} />
      {joined && (
        <>
          <FloorBanner view={view} />
          <OverlayPanel session={session} view={view} />
          <Timeline events={session.events.value} view={view} />
          {session.problem.value && <Notice tone="error">{session.problem.value}</Notice>}
          <Composer session={session} view={view} actions={[Action.NOTE, Action.PROMPT]} />
          {allowed.has(Action.CONSULT_BREAK) && (
            <div class="row">
              <label>
                Break for
                <select value={breakS.value} onChange={(e) => (breakS.value = Number(e.currentTarget.value))}>
                  {kBreakChoices.map((s) => (
                    <option value={s} key={s}>
                      {s / 60} minutes
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" onClick={() => session.act({ body: { case: "consultBreak", value: { durationS: breakS.value } } })}>
                Call a consultation break
              </button>
            </div>
          )}
          {session.insights.value && (
            <section class="card stack" aria-labelledby="insights-title">
              <h2 id="insights-title">How they are listening</h2>
              <p class="muted">Figures only, never words: they follow the conversation as it goes.</p>
              <InsightsView insights={session.insights.value} names={namesOf(view)} />
            </section>
          )}
          {allowed.has(Action.END_SESSION) &&
            (ending.value ? (
              <div class="row" role="group" aria-label="End the session?">
                <span>End the session for both partners? Use this for safety.</span>
                <button type="button" class="danger" onClick={() => session.act({ body: { case: "endSession", value: {} } })}>
                  Yes, end the session
                </button>
                <button type="button" onClick={() => (ending.value = false)}>
                  Cancel
                </button>
              </div>
            ) : (
              <button type="button" class="quiet" onClick={() => (ending.value = true)}>
                End the session...
              </button>
            ))}
        </>
      )}
    </main>
  );
}
