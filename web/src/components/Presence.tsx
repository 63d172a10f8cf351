// Who is in the room: both partners with whether they are here now, and every invited
// observer with their status (observers are always visible: no hidden observers). While the
// page is reconnecting it cannot know who is here, so it says so instead of showing the last
// presence it heard (which may be long out of date).
import { ObserverStatus, Role, type Actor, type RoomView } from "@mend/client";
import { nameOf, sameActorName } from "../words";

const kObserverStatus: Record<ObserverStatus, string> = {
  [ObserverStatus.OBSERVER_STATUS_UNSPECIFIED]: "",
  [ObserverStatus.OBSERVER_INVITED]: "invited, waiting for both partners' consent",
  [ObserverStatus.OBSERVER_APPROVED]: "approved by both partners, not here yet",
  [ObserverStatus.OBSERVER_JOINED]: "observing",
  [ObserverStatus.OBSERVER_LEFT]: "has left",
  [ObserverStatus.OBSERVER_REVOKED]: "consent withdrawn",
};

export function Presence({ view, online, live }: { view: RoomView; online: readonly Actor[]; live: boolean }) {
  const here = (actor: Actor | undefined) => online.some((o) => sameActorName(o, actor));
  return (
    <section class="presence" aria-label="Who is in the room">
      <ul>
        {view.participants.map((p) => {
          const name = nameOf(p.actor, view);
          const status = !live
            ? name === "You"
              ? "reconnecting"
              : "can't tell while we reconnect"
            : p.actor?.role === Role.OBSERVER
              ? kObserverStatus[p.observerStatus]
              : here(p.actor) || name === "You"
                ? "here now"
                : "not here yet";
          return (
            <li key={`${p.actor?.role}-${p.actor?.observer}`} class={status === "here now" || status === "observing" ? "present" : ""}>
              <span class="dot" aria-hidden="true" />
              <span>
                {name}: {status}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
