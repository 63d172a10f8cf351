// Whose floor it is and what the view asks of me now, in the template's own prompt.
import { Role, type RoomView } from "@mend/client";
import { phaseWords, roleName } from "../words";
import { isOverlay } from "./OverlayPanel";

export function FloorBanner({ view }: { view: RoomView }) {
  // A pause, time-out or break says so itself (OverlayPanel): nobody holds the floor then.
  if (isOverlay(view.phase)) return null;
  const phase = view.phase;
  const you = view.you?.role;
  const floor =
    view.speaker !== Role.ROLE_UNSPECIFIED
      ? view.speaker === you
        ? "You have the floor"
        : `${roleName(view.speaker, view)} has the floor`
      : phaseWords(phase);
  return (
    <section class="floor card" aria-labelledby="floor-title">
      {view.speaker !== Role.ROLE_UNSPECIFIED && (
        <p class="muted small">
          {view.stageTitle ? `${view.stageTitle} · ` : ""}
          {phaseWords(phase)}
        </p>
      )}
      <h2 id="floor-title">{floor}</h2>
      {view.prompt && <p class="prompt">{view.prompt}</p>}
    </section>
  );
}
