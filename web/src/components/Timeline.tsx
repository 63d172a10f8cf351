// The conversation so far: each message with its author and kind; retracted and erased texts
// shown as such; per-message actions exactly where the view lists the seq.
import type { Event, RoomView } from "@mend/client";
import { Action, Role } from "@mend/client";
import { describeEvent, nameOf } from "../words";

const kErased = "[erased]";

export interface MessageActions {
  retract: (seq: bigint) => void;
  decline: (seq: bigint) => void;
  accept: (seq: bigint) => void;
}

export function Timeline(props: { events: readonly Event[]; view: RoomView; actions?: MessageActions }) {
  const { events, view, actions } = props;
  const retracted = new Set<bigint>();
  for (const e of events) if (e.body.case === "retracted") retracted.add(e.body.value.seq);
  const allowed = new Set(view.allowedActions);
  const has = (list: bigint[], seq: bigint) => list.some((s) => s === seq);
  return (
    <ol class="timeline" aria-label="The conversation so far">
      {events.map((event) => {
        const entry = describeEvent(event, view);
        if (!entry) return null;
        const who = nameOf(event.actor, view);
        if (!entry.content) {
          return (
            <li class="flow" key={String(event.seq)}>
              {entry.sentence || event.actor?.role === Role.SYSTEM ? entry.kind : `${who} ${entry.kind}`}
            </li>
          );
        }
        const mine = who === "You";
        const isRetracted = retracted.has(event.seq);
        const isErased = entry.text === kErased;
        return (
          <li class={`message ${mine ? "mine" : "theirs"}`} key={String(event.seq)} data-seq={String(event.seq)}>
            <p class="meta">
              <span class="author">{who}</span> <span class="kind">{entry.kind}</span>
            </p>
            {isRetracted ? (
              <p class="withdrawn">(taken back)</p>
            ) : isErased ? (
              <p class="withdrawn">(erased)</p>
            ) : (
              <>
                <p class="text">{entry.text}</p>
                {entry.lines && entry.lines.length > 0 && (
                  <p class="startup">
                    {entry.lines.map((line, i) => (
                      <span class="line" key={i}>
                        {line}
                      </span>
                    ))}
                  </p>
                )}
              </>
            )}
            {actions && !isRetracted && (
              <div class="row small">
                {allowed.has(Action.RETRACT) && has(view.retractable, event.seq) && (
                  <button type="button" onClick={() => actions.retract(event.seq)}>
                    Take this back
                  </button>
                )}
                {allowed.has(Action.DECLINE) && has(view.declinable, event.seq) && (
                  <button type="button" onClick={() => actions.decline(event.seq)}>
                    Decline
                  </button>
                )}
                {allowed.has(Action.ACCEPT_PROPOSAL) && has(view.acceptableProposals, event.seq) && (
                  <button type="button" onClick={() => actions.accept(event.seq)}>
                    Accept this proposal
                  </button>
                )}
              </div>
            )}
          </li>
        );
      })}
    </ol>
  );
}
