// Join and consent: who is in the room, the terms in plain words, agree; then waiting for the
// partner. Partner B starts the room when it waits for them (INVITED).
import { useSignal } from "@preact/signals";
import { Action, Phase, Role, type RoomView } from "@mend/client";
import { ActionButtons } from "../components/ActionButtons";
import { Notice } from "../components/Notice";
import { Presence } from "../components/Presence";
import type { RoomSession } from "../session";
import { roleName } from "../words";

const kRetentionChoices: readonly [number, string][] = [
  [0, "Delete the words as soon as we finish"],
  [7, "Keep them for a week"],
  [30, "Keep them for 30 days"],
  [365, "Keep them for a year"],
];

export function Join({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const other = roleName(view.you?.role === Role.PARTNER_A ? Role.PARTNER_B : Role.PARTNER_A, view);
  const youConsented = view.you?.role === Role.PARTNER_A ? view.aConsented : view.bConsented;
  return (
    <main class="screen">
      <h1>{view.topic ? `A conversation about ${view.topic}` : "Before you begin"}</h1>
      <Presence view={view} online={session.online.value} live={session.connection.value === "online"} />
      {view.phase === Phase.INVITED && !allowed.has(Action.ACCEPT_INVITATION) && (
        <p role="status">Waiting for {other} to open their invitation.</p>
      )}
      {view.phase === Phase.INVITED && allowed.has(Action.ACCEPT_INVITATION) && (
        <p>{other} would like to talk with you. Start when you feel ready.</p>
      )}
      <ActionButtons session={session} view={view} />
      {session.problem.value && <Notice tone="error">{session.problem.value}</Notice>}
      {allowed.has(Action.CONSENT) && !youConsented && <ConsentForm session={session} view={view} />}
      {youConsented && (
        <p role="status" class="card">
          Thank you. {view.phase === Phase.CONSENT ? `Waiting for ${other} to agree too.` : "You're both in."}
        </p>
      )}
    </main>
  );
}

function ConsentForm({ session, view }: { session: RoomSession; view: RoomView }) {
  const observers = view.participants.filter((p) => p.actor?.role === Role.OBSERVER).map((p) => p.actor?.observer ?? "");
  const retention = useSignal(30);
  const approved = useSignal<readonly string[]>(observers);
  const summary = useSignal(false);
  const transcript = useSignal(false);

  function toggle(name: string, on: boolean) {
    approved.value = on ? [...approved.value, name] : approved.value.filter((n) => n !== name);
  }

  return (
    <form
      class="card stack"
      aria-labelledby="terms-title"
      onSubmit={(e) => {
        e.preventDefault();
        session.act({
          body: {
            case: "consent",
            value: {
              terms: {
                observers: [...approved.value],
                retentionDays: retention.value,
                summaryToObserver: summary.value,
                transcriptToObserver: transcript.value,
              },
            },
          },
        });
      }}
    >
      <h2 id="terms-title">What you agree to</h2>
      <ul class="terms">
        <li>One of you speaks at a time. The other listens and says back what they heard before answering.</li>
        <li>Either of you can ask for a minute or take a time-out at any moment, without explaining why.</li>
        <li>You can take back anything you said. You can erase your words, or, together, the whole conversation.</li>
        <li>If you two choose different terms, the more private choice wins.</li>
      </ul>
      <label>
        How long may your words be kept after you finish?
        <select value={retention.value} onChange={(e) => (retention.value = Number(e.currentTarget.value))}>
          {kRetentionChoices.map(([days, words]) => (
            <option value={days} key={days}>
              {words}
            </option>
          ))}
        </select>
      </label>
      {observers.length > 0 && (
        <fieldset>
          <legend>Who may observe? A counselor joins only if you both say yes, and you can change your mind at any time.</legend>
          {observers.map((name) => (
            <label key={name} class="check">
              <input type="checkbox" checked={approved.value.includes(name)} onChange={(e) => toggle(name, e.currentTarget.checked)} />
              {name} may observe
            </label>
          ))}
          <label class="check">
            <input type="checkbox" checked={summary.value} onChange={(e) => (summary.value = e.currentTarget.checked)} />
            The counselor may get a summary
          </label>
          <label class="check">
            <input type="checkbox" checked={transcript.value} onChange={(e) => (transcript.value = e.currentTarget.checked)} />
            The counselor may export the transcript
          </label>
        </fieldset>
      )}
      <button type="submit" class="primary">
        I agree
      </button>
    </form>
  );
}
