// One polite live region that tells screen-reader users about new messages and turn changes
// as they happen (not the replay that fills the page when it loads).
import { useEffect, useRef } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { Event, RoomView } from "@mend/client";
import { describeEvent, nameOf, phaseWords, roleName } from "../words";

export function LiveAnnouncer({ events, view }: { events: readonly Event[]; view: RoomView }) {
  const text = useSignal("");
  const seen = useRef<number | undefined>(undefined);
  const speaker = useRef(view.speaker);
  const phase = useRef(view.phase);

  useEffect(() => {
    if (seen.current === undefined) {
      seen.current = events.length;
      return;
    }
    const fresh = events.slice(seen.current);
    seen.current = events.length;
    const lines: string[] = [];
    for (const e of fresh) {
      const entry = describeEvent(e, view);
      if (entry?.content && nameOf(e.actor, view) !== "You") lines.push(`${nameOf(e.actor, view)}, ${entry.kind}: ${[entry.text, ...(entry.lines ?? [])].join()}`);
    }
    if (view.speaker !== speaker.current && view.speaker) lines.push(`${roleName(view.speaker, view)} now ${view.speaker === view.you?.role ? "have" : "has"} the floor.`);
    else if (view.phase !== phase.current) lines.push(phaseWords(view.phase));
    speaker.current = view.speaker;
    phase.current = view.phase;
    if (lines.length > 0) text.value = lines.join(" ");
  }, [events, view]);

  return (
    <div class="sr-only" aria-live="polite" aria-atomic="true">
      {text.value}
    </div>
  );
}
