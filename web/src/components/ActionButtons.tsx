// One button for each one-press action the view allows now, and nothing else.
import { Action, type RoomView } from "@mend/client";
import { actionLabel, kButtonActions, plainCommand } from "../actions";
import type { RoomSession } from "../session";

export function ActionButtons({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const buttons = kButtonActions.filter((a) => allowed.has(a));
  const choice = allowed.has(Action.PROBLEM_SOLVING_CHOICE);
  if (buttons.length === 0 && !choice) return null;
  return (
    <div class="row actions" role="group" aria-label="What you can do now">
      {buttons.map((a) => (
        <button type="button" key={a} class={a === Action.CONFIRM || a === Action.READY || a === Action.RETURN ? "primary" : ""} onClick={() => session.act(plainCommand(a))}>
          {actionLabel(a, view.expectedReflection)}
        </button>
      ))}
      {choice && (
        <>
          <button type="button" class="primary" onClick={() => session.act({ body: { case: "problemSolvingChoice", value: { optIn: true } } })}>
            Look for solutions together
          </button>
          <button type="button" onClick={() => session.act({ body: { case: "problemSolvingChoice", value: { optIn: false } } })}>
            Not this time
          </button>
        </>
      )}
    </div>
  );
}
