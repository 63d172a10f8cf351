// Composer: enabled only when the view offers a text action, and labelled with the action it
// will send. The draft lives in the session, so a reconnect or a re-render never loses it; it
// is cleared only when the server accepted the message.
import { useSignal } from "@preact/signals";
import { Action, Role, type RoomView } from "@mend/client";
import { roleName } from "../words";
import { actionLabel, kTextActions, placeholder, textCommand } from "../actions";
import { useTicking, now } from "../clock";
import type { RoomSession } from "../session";

const kTypingEveryMs = 1_000;

export function Composer({ session, view, actions }: { session: RoomSession; view: RoomView; actions?: readonly Action[] }) {
  const allowed = new Set(view.allowedActions);
  const offered = (actions ?? kTextActions).filter((a) => allowed.has(a));
  const chosen = useSignal<Action | undefined>(undefined);
  const sending = useSignal(false);
  const lastTyping = useSignal(0);
  useTicking();
  // With nothing offered the composer stays disabled; its natural action is still `share`, so
  // a send forced past the disabled state gets the server's own refusal.
  const action = chosen.value !== undefined && offered.includes(chosen.value) ? chosen.value : (offered[0] ?? Action.SHARE);
  const label = actionLabel(action, view.expectedReflection, view.phase);
  const beatLeftMs =
    action === Action.REFLECT ? Number(view.reflectNotBeforeMs) - (now.value + session.serverOffsetMs.value) : 0;
  const waitingForBeat = beatLeftMs > 0;
  const enabled = offered.length > 0;

  async function submit(e: Event) {
    e.preventDefault();
    const text = session.draft.value.trim();
    if (!text || sending.value) return;
    sending.value = true;
    session.sendTyping(false);
    const accepted = await session.act(textCommand(action, text, view.expectedReflection));
    sending.value = false;
    if (accepted && session.draft.value.trim() === text) session.draft.value = "";
  }

  function input(e: Event) {
    session.draft.value = (e.currentTarget as HTMLTextAreaElement).value;
    const t = Date.now();
    if (t - lastTyping.value > kTypingEveryMs) {
      lastTyping.value = t;
      session.sendTyping(true);
    }
  }

  return (
    <form class="composer" onSubmit={submit} aria-label="Your message">
      {offered.length > 1 && (
        <fieldset class="choices">
          <legend>What would you like to send?</legend>
          {offered.map((a) => (
            <label key={a}>
              <input type="radio" name="composer-action" checked={a === action} onChange={() => (chosen.value = a)} />
              {actionLabel(a, view.expectedReflection, view.phase)}
            </label>
          ))}
        </fieldset>
      )}
      <label for="composer-text">{enabled ? label : idleWords(view)}</label>
      <textarea
        id="composer-text"
        rows={3}
        value={session.draft.value}
        onInput={input}
        disabled={!enabled}
        placeholder={enabled ? placeholder(action, view.phase) : ""}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e);
        }}
      />
      {action === Action.SHARE && view.chunkMaxChars > 0 && enabled && (
        <p class="muted small" aria-live="off">
          {session.draft.value.length} / {view.chunkMaxChars} characters
        </p>
      )}
      {enabled && waitingForBeat && (
        <p class="beat" role="status">
          Take a breath before you answer: {Math.ceil(beatLeftMs / 1000)} s
        </p>
      )}
      <button type="submit" class="primary" disabled={!enabled || waitingForBeat || sending.value}>
        {sending.value ? "Sending..." : enabled ? `Send: ${label}` : "Send"}
      </button>
    </form>
  );
}

/** What the disabled composer says: why there is nothing to write just now. */
function idleWords(view: RoomView): string {
  if (view.speaker !== Role.ROLE_UNSPECIFIED && view.speaker !== view.you?.role) {
    return `${roleName(view.speaker, view)} has the floor: listen for now`;
  }
  return "Nothing to write just now";
}
