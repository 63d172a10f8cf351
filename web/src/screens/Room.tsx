// A room opened from an invite link: connects through the SDK and shows the screen the view
// calls for (join and consent, conversation, counselor, after), with the connection's state.
import { useEffect, useMemo, useState } from "preact/hooks";
import { CloseCode, Phase, Role } from "@mend/client";
import { LiveAnnouncer } from "../components/LiveAnnouncer";
import { Notice } from "../components/Notice";
import { closeWords } from "../errors";
import { RoomSession } from "../session";
import { After } from "./After";
import { Conversation } from "./Conversation";
import { Counselor } from "./Counselor";
import { Join } from "./Join";

/** How often a counselor's page asks again while the partners have not both agreed yet. */
const kAdmissionRetryMs = 3_000;

export function Room({ token }: { token: string }) {
  const [attempt, setAttempt] = useState(0);
  const session = useMemo(() => new RoomSession(token), [token, attempt]);
  useEffect(() => {
    session.start();
    return () => session.stop();
  }, [session]);

  const view = session.view.value;
  const closed = session.closedFor.value;
  const state = session.connection.value;
  const reconnecting = !closed && view !== undefined && state !== "online";
  // A counselor is let in only once both partners agreed (until then mendd closes with 4503):
  // a page that was never in the room waits and asks again.
  const notYetAdmitted = closed?.closeCode === CloseCode.ConsentOrErased && view === undefined;
  useEffect(() => {
    if (!notYetAdmitted) return;
    const timer = setTimeout(() => setAttempt((n) => n + 1), kAdmissionRetryMs);
    return () => clearTimeout(timer);
  }, [notYetAdmitted, session]);

  if (notYetAdmitted) {
    return (
      <main class="screen">
        <h1>Waiting to be let in</h1>
        <p role="status" class="card">
          You can observe once both partners have agreed to have you here. This page checks again every few seconds.
        </p>
      </main>
    );
  }

  return (
    <>
      {closed && (
        <main class="screen">
          <h1>This conversation is closed to you</h1>
          <Notice tone="error">{closeWords(closed)}</Notice>
          {session.draft.value && (
            <p>
              What you were writing, so it is not lost:
              <textarea readOnly rows={3} aria-label="What you were writing" value={session.draft.value} />
            </p>
          )}
        </main>
      )}
      {reconnecting && (
        <div class="banner" role="status">
          Reconnecting... what you type stays here and is sent when we're back.
        </div>
      )}
      {!closed && !view && (
        <main class="screen">
          <h1>Opening your conversation</h1>
          <p role="status">{state === "waiting" ? "We can't reach the mend server yet. Trying again..." : "Connecting..."}</p>
        </main>
      )}
      {!closed && view && <Screen session={session} />}
      {view && <LiveAnnouncer events={session.events.value} view={view} />}
    </>
  );
}

function Screen({ session }: { session: RoomSession }) {
  const view = session.view.value!;
  if (view.phase === Phase.CLOSED) return <After session={session} view={view} />;
  if (view.you?.role === Role.OBSERVER) return <Counselor session={session} view={view} />;
  if (view.phase === Phase.INVITED || view.phase === Phase.CONSENT) return <Join session={session} view={view} />;
  return <Conversation session={session} view={view} />;
}
