// Conversation: whose floor it is, what I may do now, the timeline, and exactly the view's
// allowed actions (composer, buttons, care tools, overlays).
import { Action, Role, type RoomView } from "@mend/client";
import { ActionButtons } from "../components/ActionButtons";
import { CareTools } from "../components/CareTools";
import { Composer } from "../components/Composer";
import { FloorBanner } from "../components/FloorBanner";
import { Notice } from "../components/Notice";
import { ObserverConsent } from "../components/ObserverConsent";
import { OpenForm } from "../components/OpenForm";
import { OverlayPanel } from "../components/OverlayPanel";
import { Presence } from "../components/Presence";
import { Timeline } from "../components/Timeline";
import type { RoomSession } from "../session";
import { nameOf } from "../words";

export function Conversation({ session, view }: { session: RoomSession; view: RoomView }) {
  const allowed = new Set(view.allowedActions);
  const typing = session.typing.value;
  return (
    <main class="screen conversation">
      <h1>{view.topic || "Your conversation"}</h1>
      <Presence view={view} online={session.online.value} live={session.connection.value === "online"} />
      <ObserverConsent session={session} view={view} />
      <FloorBanner view={view} />
      <OverlayPanel session={session} view={view} />
      <Timeline
        events={session.events.value}
        view={view}
        actions={{
          retract: (seq) => session.act({ body: { case: "retract", value: { seq } } }),
          decline: (seq) => session.act({ body: { case: "decline", value: { seq } } }),
          accept: (seq) => session.act({ body: { case: "acceptProposal", value: { seq } } }),
        }}
      />
      <p class="typing" aria-hidden={typing ? "false" : "true"}>
        {typing ? `${nameOf(typing, view)} is typing...` : ""}
      </p>
      {session.problem.value && <Notice tone="error">{session.problem.value}</Notice>}
      {session.hints.value.map((hint) => (
        <Notice tone="info" key={hint}>
          {hint}
        </Notice>
      ))}
      {allowed.has(Action.OPEN) ? (
        <OpenForm session={session} view={view} template={session.template.value} />
      ) : (
        view.you?.role !== Role.OBSERVER && <Composer session={session} view={view} />
      )}
      <ActionButtons session={session} view={view} />
      <CareTools session={session} view={view} />
    </main>
  );
}
