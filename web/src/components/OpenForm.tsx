// OPENING: the opener states an intention and the one topic (the template's own prompts) and,
// where the view offers the start-up form, may add its three optional lines (Gottman's softened
// start-up; NVC): "I feel ... about ... and I need ...".
import { useSignal } from "@preact/signals";
import type { RoomView, Template } from "@mend/client";
import type { RoomSession } from "../session";

export function OpenForm({ session, view, template }: { session: RoomSession; view: RoomView; template: Template | undefined }) {
  const topic = useSignal(view.topic);
  const feeling = useSignal("");
  const situation = useSignal("");
  const need = useSignal("");
  return (
    <form
      class="composer stack"
      aria-label="Open the conversation"
      onSubmit={async (e) => {
        e.preventDefault();
        const intention = session.draft.value.trim();
        const startup = view.startupForm
          ? { feeling: feeling.value.trim(), situation: situation.value.trim(), need: need.value.trim() }
          : undefined;
        if (await session.act({ body: { case: "open", value: { intention, topic: topic.value.trim(), startup } } })) {
          session.draft.value = "";
        }
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
      {view.startupForm && (
        <fieldset class="stack startup-form">
          <legend>A gentle start, if you like (each line is optional)</legend>
          <label>
            I feel...
            <input value={feeling.value} onInput={(e) => (feeling.value = e.currentTarget.value)} placeholder="a little lonely" />
          </label>
          <label>
            about...
            <input value={situation.value} onInput={(e) => (situation.value = e.currentTarget.value)} placeholder="the evenings we spend apart" />
          </label>
          <label>
            and I need...
            <input value={need.value} onInput={(e) => (need.value = e.currentTarget.value)} placeholder="some time together this week" />
          </label>
        </fieldset>
      )}
      <button type="submit" class="primary">
        Open the conversation
      </button>
    </form>
  );
}
