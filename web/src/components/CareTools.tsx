// The always-available tools of a partner (DESIGN 4.5): signals, repairs, "I need a minute",
// a time-out with a duration within the template's floor and cap, and leaving. Each appears
// only when the view allows it.
import { useSignal } from "@preact/signals";
import { Action, type RoomView, type Template } from "@mend/client";
import { kRepairs, kSignals } from "../actions";
import type { RoomSession } from "../session";

const kPauseDefaultS = 120;
const kPauseMaxS = 600;
const kTimeOutMinS = 1200;
const kTimeOutDefaultS = 1200;
const kTimeOutCapS = 86_400;
/** Added to a chosen return time so that the page's estimate of the server clock never lands it under the floor. */
const kClockSlackMs = 5_000;

/**
 * Time-out's return_at_ms for a duration: 0 (the server's own default) for the default; at the
 * floor a little slack, since the page only estimates the server's clock.
 */
export function returnAt(session: RoomSession, seconds: number, bounds: { min: number; preferred: number }): bigint {
  if (seconds === bounds.preferred) return 0n;
  const slack = seconds <= bounds.min ? kClockSlackMs : 0;
  return BigInt(Math.round(session.serverNow() + seconds * 1000 + slack));
}

/** Durations (seconds) offered between `min` and `max`, always including `preferred`. */
function durations(candidates: number[], min: number, max: number, preferred: number): number[] {
  const set = new Set(candidates.filter((s) => s >= min && s <= max));
  set.add(Math.min(Math.max(preferred, min), max));
  return [...set].sort((a, b) => a - b);
}

function minutesText(s: number): string {
  if (s < 3600) return `${Math.round(s / 60)} minutes`;
  const h = s / 3600;
  return h === 1 ? "1 hour" : `${h} hours`;
}

export function timeOutBounds(template: Template | undefined) {
  const t = template?.timing;
  const min = Math.max(kTimeOutMinS, t?.timeOutMinS || 0);
  return {
    min,
    preferred: Math.max(min, t?.timeOutDefaultS || kTimeOutDefaultS),
    cap: Math.min(kTimeOutCapS, t?.timeOutCapS || kTimeOutCapS),
  };
}

export function CareTools({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const template = session.template.value;
  const pauseMax = Math.min(kPauseMaxS, template?.timing?.pauseMaxS || kPauseMaxS);
  const pauseDefault = template?.timing?.pauseDefaultS || kPauseDefaultS;
  const pauseChoices = durations([60, 120, 300, 600], 60, pauseMax, pauseDefault);
  const timeOut = timeOutBounds(template);
  const timeOutChoices = durations([1200, 1800, 3600, 7200, 14_400, 86_400], timeOut.min, timeOut.cap, timeOut.preferred);
  const pauseS = useSignal(pauseDefault);
  const timeOutS = useSignal(timeOut.preferred);
  const leaving = useSignal(false);

  return (
    <section class="care card" aria-label="Care and pauses">
      {allowed.has(Action.SIGNAL) && (
        <div class="row small" role="group" aria-label="Send a signal without words">
          {kSignals.map(([kind, words]) => (
            <button type="button" key={kind} onClick={() => session.act({ body: { case: "signal", value: { kind } } })}>
              {words}
            </button>
          ))}
        </div>
      )}
      {allowed.has(Action.REPAIR) && (
        <details>
          <summary>Repair: soften the moment</summary>
          <div class="row small">
            {kRepairs.map(([kind, words]) => (
              <button type="button" key={kind} onClick={() => session.act({ body: { case: "repair", value: { kind } } })}>
                {words}
              </button>
            ))}
          </div>
        </details>
      )}
      {allowed.has(Action.PAUSE) && (
        <div class="row">
          <label>
            Pause for
            <select value={pauseS.value} onChange={(e) => (pauseS.value = Number(e.currentTarget.value))}>
              {pauseChoices.map((s) => (
                <option value={s} key={s}>
                  {minutesText(s)}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => session.act({ body: { case: "pause", value: { durationS: pauseS.value } } })}>
            I need a minute
          </button>
        </div>
      )}
      {allowed.has(Action.TIME_OUT) && (
        <div class="row">
          <label>
            Time-out for
            <select value={timeOutS.value} onChange={(e) => (timeOutS.value = Number(e.currentTarget.value))}>
              {timeOutChoices.map((s) => (
                <option value={s} key={s}>
                  {minutesText(s)}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            onClick={() =>
              session.act({ body: { case: "timeOut", value: { returnAtMs: returnAt(session, timeOutS.value, timeOut) } } })
            }
          >
            Take a time-out
          </button>
        </div>
      )}
      {allowed.has(Action.LEAVE) &&
        (leaving.value ? (
          <div class="row" role="group" aria-label="End the conversation?">
            <span>End the conversation for both of you?</span>
            <button type="button" class="danger" onClick={() => session.act({ body: { case: "leave", value: {} } })}>
              Yes, end it
            </button>
            <button type="button" onClick={() => (leaving.value = false)}>
              Keep talking
            </button>
          </div>
        ) : (
          <button type="button" class="quiet" onClick={() => (leaving.value = true)}>
            End the conversation...
          </button>
        ))}
    </section>
  );
}
