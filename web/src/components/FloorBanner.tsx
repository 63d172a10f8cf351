// Whose floor it is and what the view asks of me now, in the template's own prompt.
import { Action, Role, type RoomView } from "@mend/client";
import { choiceWords, isOverlay, phaseWords, roleName } from "../words";

export function FloorBanner({ view }: { view: RoomView }) {
  // A pause, time-out or break says so itself (OverlayPanel): nobody holds the floor then.
  if (isOverlay(view.phase)) return null;
  const phase = view.phase;
  // The opening's prompt is the label of the form's first field (OpenForm): shown there once.
  const promptInForm = view.allowedActions.includes(Action.OPEN);
  const you = view.you?.role;
  const floor =
    view.speaker !== Role.ROLE_UNSPECIFIED
      ? view.speaker === you
        ? "You have the floor"
        : `${roleName(view.speaker, view)} has the floor`
      : phaseWords(phase);
  // What each partner chose so far, as the view reports it: ready to move on (while a floor is
  // held), feeling understood (at the solution gate).
  const choices = [
    ...(view.speaker !== Role.ROLE_UNSPECIFIED ? choiceWords(view, view.aMovesOn, view.bMovesOn, "is ready to move on", "are ready to move on") : []),
    ...choiceWords(view, view.aFeelsUnderstood, view.bFeelsUnderstood, "feels understood", "feel understood"),
  ];
  return (
    <section class="floor card" aria-labelledby="floor-title">
      {view.speaker !== Role.ROLE_UNSPECIFIED && (
        <p class="muted small">
          {view.stageTitle ? `${view.stageTitle} · ` : ""}
          {phaseWords(phase)}
        </p>
      )}
      <h2 id="floor-title">{floor}</h2>
      {view.prompt && !promptInForm && <p class="prompt">{view.prompt}</p>}
      {choices.map((line) => (
        <p class="choice" key={line}>
          {line}
        </p>
      ))}
    </section>
  );
}
