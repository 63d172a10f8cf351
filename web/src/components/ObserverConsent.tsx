// A partner's say over each invited counselor: approve, or withdraw approval at any time (the
// counselor is disconnected at once). Shown only when the view allows it.
import { Action, Role, type RoomView } from "@mend/client";
import type { RoomSession } from "../session";

export function ObserverConsent({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const youAreA = view.you?.role === Role.PARTNER_A;
  const observers = view.participants.filter((p) => p.actor?.role === Role.OBSERVER);
  if (observers.length === 0) return null;
  return (
    <div class="row small" role="group" aria-label="Who may observe">
      {observers.map((p) => {
        const name = p.actor?.observer ?? "";
        const approvedByYou = youAreA ? p.approvedByA : p.approvedByB;
        if (approvedByYou && allowed.has(Action.REVOKE_OBSERVER)) {
          return (
            <button type="button" key={name} onClick={() => session.act({ body: { case: "revokeObserver", value: { observer: name } } })}>
              Stop {name} observing
            </button>
          );
        }
        if (!approvedByYou && allowed.has(Action.APPROVE_OBSERVER)) {
          return (
            <button type="button" key={name} onClick={() => session.act({ body: { case: "approveObserver", value: { observer: name } } })}>
              Let {name} observe
            </button>
          );
        }
        return null;
      })}
    </div>
  );
}
