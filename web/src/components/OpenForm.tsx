// OPENING: the opener states an intention and the one topic (the template's own prompts).
import { useSignal } from "@preact/signals";
import type { RoomView, Template } from "@mend/client";
import type { RoomSession } from "../session";

export function OpenForm({ session, view, template }: { session: RoomSession; view: RoomView; template: Template | undefined }) {
  const topic = useSignal(view.topic);
  return (
    <form
      class="composer stack"
      aria-label="Open the conversation"
      onSubmit={async (e) => {
        e.preventDefault();
        const intention = session.draft.value.trim();
        if (await session.act({ body: { case: "open", value: { intention, topic: topic.value.trim() } } })) session.draft.value = "";
      }}
    >
      <label>
        {template?.opening?.intentionPrompt || "Why would you like to talk?"}
        <textarea rows={2} value={session.draft.value} onInput={(e) => (session.draft.value = e.currentTarget.value)} required />
      </label>
      <label>
        {template?.opening?.topicPrompt || "The one subject for today"}
        <input value={topic.value} onInput={(e) => (topic.value = e.currentTarget.value)} required={!view.topic} />
      </label>
      <button type="submit" class="primary">
        Open the conversation
      </button>
    </form>
  );
}
