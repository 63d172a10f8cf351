// A pause, time-out, check-in, suspension or consultation break: what it is, who called it,
// a countdown to the view's deadline; returning and extending appear only when the view
// offers them (the caller's).
import { useSignal } from "@preact/signals";
import { Action, Phase, Role, type RoomView } from "@mend/client";
import { now, useTicking } from "../clock";
import type { RoomSession } from "../session";
import { clockText, isOverlay, roleName } from "../words";
import { returnAt, timeOutBounds } from "./CareTools";

export function OverlayPanel({ session, view }: { session: RoomSession; view: RoomView }) {
  useTicking();
  const extendS = useSignal(0);
  if (!isOverlay(view.phase)) return null;
  const ends = Number(view.overlayEndsAtMs);
  const left = ends - (now.value + session.serverOffsetMs.value);
  const caller =
    view.overlayCaller !== Role.ROLE_UNSPECIFIED ? roleName(view.overlayCaller, view) : view.overlayObserver ? `${view.overlayObserver} (counselor)` : "";
  const youCalled = view.overlayCaller !== Role.ROLE_UNSPECIFIED && view.overlayCaller === view.you?.role;
  const allowed = new Set(view.allowedActions);
  const bounds = timeOutBounds(session.template.value);
  return (
    <section class="overlay card" aria-labelledby="overlay-title">
      <h2 id="overlay-title">{title(view.phase, caller, youCalled)}</h2>
      <p>{explanation(view, youCalled)}</p>
      {ends > 0 && view.phase !== Phase.CHECK_IN && (
        <p class="countdown" role="timer" aria-label="Time left">
          {left > 0 ? clockText(left) : "Time is up"}
        </p>
      )}
      {allowed.has(Action.EXTEND) && (
        <div class="row">
          <label>
            Return in
            <select value={extendS.value} onChange={(e) => (extendS.value = Number(e.currentTarget.value))}>
              <option value={0}>choose...</option>
              {[1200, 1800, 3600, 7200].filter((s) => s >= bounds.min && s <= bounds.cap).map((s) => (
                <option value={s} key={s}>
                  {s / 60} minutes from now
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            disabled={extendS.value === 0}
            onClick={() => session.act({ body: { case: "extend", value: { returnAtMs: returnAt(session, extendS.value, { min: bounds.min, preferred: -1 }) } } })}
          >
            I need longer
          </button>
        </div>
      )}
    </section>
  );
}

function title(phase: Phase, caller: string, youCalled: boolean): string {
  switch (phase) {
    case Phase.PAUSED:
      return youCalled ? "You asked for a minute" : `${caller} asked for a minute`;
    case Phase.TIMED_OUT:
      return youCalled ? "You are taking a time-out" : `${caller} is taking a time-out`;
    case Phase.CONSULT_BREAK:
      return `${caller || "The counselor"} called a consultation break`;
    case Phase.CHECK_IN:
      return "Ready to continue?";
    default:
      return "The conversation is paused until you pick a new time";
  }
}

function explanation(view: RoomView, youCalled: boolean): string {
  switch (view.phase) {
    case Phase.PAUSED:
      return youCalled
        ? "Take the time you need. Press \"I'm back\" when you are ready."
        : "Nothing can be said by either of you until the pause ends. They do want to talk: this is a breath, not a door closing.";
    case Phase.TIMED_OUT:
      return youCalled
        ? "The conversation has stopped for now, with no last word for anyone. Calm your body; come back when you said you would."
        : "The conversation has stopped, and nobody gets the last word. Your partner has promised to come back; only they can end the time-out.";
    case Phase.CONSULT_BREAK:
      return "Both of you pause while the counselor offers a thought.";
    case Phase.CHECK_IN:
      return "When you both say you're ready, you pick up where you left off.";
    default:
      return "A time-out ran past its limit. Either of you can name a time to resume.";
  }
}
