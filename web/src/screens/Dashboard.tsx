// The counselor dashboard: the caseload of the counselor's API key (GET /v1/rooms), refreshed a
// few seconds apart, each conversation's live status, and a way in to observe it (the counselor's
// own invite link, checked against the room first). Content-free: the caseload holds no names,
// topics or words, so partners are "Partner A" and "Partner B" here.
import { useSignal } from "@preact/signals";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { ClientError, Phase, Role, type HttpClient, type RoomStatus } from "@mend/client";
import { Notice } from "../components/Notice";
import { SeriesTrends } from "../components/SeriesTrends";
import { counselorHttp, forgetCounselor, storeApiKey, storedApiKey, storedInvite, storeInvite } from "../counselor";
import { errorWords } from "../errors";
import { tokenFromHash } from "../invite";
import { http } from "../server";
import { agoWords, caseloadPhaseWords, nameOf, roleName } from "../words";

/** How long the caseload waits between two refreshes (one request in flight at a time). */
const kRefreshMs = 3_000;
/** How often "last activity" (e.g. "5 minutes ago") is worked out again. */
const kAgoTickMs = 15_000;

export function Dashboard() {
  const key = useSignal(storedApiKey());
  const refused = useSignal(false);
  const forget = (wasRefused: boolean) => {
    forgetCounselor();
    refused.value = wasRefused;
    key.value = undefined;
  };
  if (key.value === undefined) return <KeyForm refused={refused.value} onKey={(k) => (key.value = k)} />;
  return <Caseload apiKey={key.value} onForget={() => forget(false)} onRefused={() => forget(true)} />;
}

function KeyForm({ refused, onKey }: { refused: boolean; onKey: (key: string) => void }) {
  return (
    <main class="screen">
      <h1>Your caseload</h1>
      <p class="lead">
        See the conversations you started for the couples you work with, as they happen, and step in to observe when
        both partners have agreed.
      </p>
      {refused && (
        <Notice tone="error">
          The server didn't accept that key. Check it with whoever runs your mend server, and enter it again.
        </Notice>
      )}
      <form
        class="card stack"
        onSubmit={(e) => {
          e.preventDefault();
          const value = String(new FormData(e.currentTarget).get("apiKey") ?? "").trim();
          storeApiKey(value);
          onKey(value);
        }}
      >
        <label>
          Your API key
          <input name="apiKey" type="password" autocomplete="off" spellcheck={false} aria-describedby="key-help" />
        </label>
        <p id="key-help" class="muted small">
          It stays in this browser tab only and is forgotten when you close it. If your mend server has no API keys,
          leave it empty.
        </p>
        <button type="submit" class="primary">
          Open my caseload
        </button>
      </form>
      <p>
        <a href="#">Start a new conversation instead</a>
      </p>
    </main>
  );
}

function Caseload({ apiKey, onForget, onRefused }: { apiKey: string; onForget: () => void; onRefused: () => void }) {
  const rooms = useSignal<readonly RoomStatus[] | undefined>(undefined);
  const problem = useSignal("");
  const titles = useSignal<ReadonlyMap<string, string>>(new Map());
  /** Said by screen readers as it changes: which conversations moved to another phase. */
  const announcement = useSignal("");
  const client = useMemo(() => counselorHttp(apiKey), [apiKey]);
  const nowMs = useSignal(Date.now());
  useEffect(() => {
    const timer = setInterval(() => (nowMs.value = Date.now()), kAgoTickMs);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    http
      .listTemplates()
      .then((list) => (titles.value = new Map(list.templates.map((t) => [t.name, t.title]))))
      .catch(() => {}); // the template's name stands in for its title
  }, []);

  useEffect(() => {
    // One request at a time; none while the tab is hidden, one at once when it shows again.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let stopped = false;
    const refresh = async () => {
      clearTimeout(timer);
      if (inFlight || stopped || document.hidden) return;
      inFlight = true;
      try {
        const list = await client.listRooms();
        // Newest first, and a stable order: cards never move as conversations go on.
        list.rooms.sort((a, b) => Number(b.createdMs - a.createdMs) || a.roomId.localeCompare(b.roomId));
        // Unchanged answers leave the page alone: no re-render, no flicker.
        if (!rooms.value || signature(list.rooms) !== signature(rooms.value)) {
          if (rooms.value) announcement.value = changes(rooms.value, list.rooms, titles.value);
          rooms.value = list.rooms;
        }
        problem.value = "";
      } catch (e) {
        // A key the server refuses is forgotten at once: the counselor enters it again.
        if (e instanceof ClientError && e.httpStatus === 401) {
          stopped = true;
          onRefused();
          return;
        }
        problem.value = errorWords(e);
      }
      inFlight = false;
      if (!stopped) timer = setTimeout(refresh, kRefreshMs);
    };
    const onVisibility = () => void refresh();
    document.addEventListener("visibilitychange", onVisibility);
    void refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [client]);

  const list = rooms.value;
  return (
    <main class="screen wide">
      <div class="row spread">
        <h1>Your caseload</h1>
        <button type="button" class="quiet" onClick={onForget}>
          Forget my key
        </button>
      </div>
      <p class="lead">
        Each conversation as it is right now; this page checks again every few seconds. You see where each couple is,
        never what they say, until you observe with their consent.
      </p>
      {problem.value && (
        <Notice tone="error">
          {problem.value}
          {list && " What you see below is from the last time we could ask."}
        </Notice>
      )}
      {!list && !problem.value && <p role="status">Looking up your conversations...</p>}
      {list && list.length === 0 && <p class="card">No conversations yet. Conversations started with your key appear here.</p>}
      <p class="sr-only" aria-live="polite">
        {announcement.value}
      </p>
      {list && list.length > 0 && (
        <ul class="caseload" aria-label="Your conversations">
          {list.map((room) => (
            <RoomCard room={room} title={titles.value.get(room.templateName) ?? room.templateName} client={client} nowMs={nowMs.value} key={room.roomId} />
          ))}
        </ul>
      )}
    </main>
  );
}

/** "Speaker and listener (series s1): Speaking." for each room whose phase changed. */
function changes(before: readonly RoomStatus[], after: readonly RoomStatus[], titles: ReadonlyMap<string, string>): string {
  const was = new Map(before.map((r) => [r.roomId, r.phase]));
  return after
    .filter((r) => was.has(r.roomId) && was.get(r.roomId) !== r.phase)
    .map((r) => {
      const series = r.seriesId ? ` (series ${r.seriesId})` : "";
      return `${titles.get(r.templateName) ?? r.templateName}${series}: ${caseloadPhaseWords(r.phase, r.savedPhase, r.closedReason)}.`;
    })
    .join(" ");
}

/** What a refresh compares: every field the page shows. */
function signature(rooms: readonly RoomStatus[]): string {
  return rooms
    .map((r) =>
      [r.roomId, r.phase, r.savedPhase, r.closedReason, r.lastActivityMs, r.aConsented, r.bConsented, r.seriesId,
        r.connected.map((a) => `${a.role}:${a.observer}`).join(","), r.observersPending.join(",")].join("|"),
    )
    .join("\n");
}

function RoomCard({ room, title, client, nowMs }: { room: RoomStatus; title: string; client: HttpClient; nowMs: number }) {
  const trends = useSignal(false);
  const connected = room.connected.map((actor) => nameOf(actor, undefined));
  const waitingFor = [
    !room.aConsented && roleName(Role.PARTNER_A, undefined),
    !room.bConsented && roleName(Role.PARTNER_B, undefined),
  ].filter(Boolean);
  const headingId = `room-${room.roomId}`;
  return (
    <li class="card stack room-status" aria-labelledby={headingId}>
      <h2 id={headingId}>
        {title}
        {room.seriesId && <span class="muted small"> · series {room.seriesId}</span>}
      </h2>
      <dl class="facts">
        <dt>Where they are</dt>
        <dd class="phase">{caseloadPhaseWords(room.phase, room.savedPhase, room.closedReason)}</dd>
        <dt>Here now</dt>
        <dd>{connected.length > 0 ? connected.join(", ") : "Nobody is connected"}</dd>
        {waitingFor.length > 0 && (
          <>
            <dt>Consent</dt>
            <dd>Waiting for {waitingFor.join(" and ")} to agree to the terms</dd>
          </>
        )}
        {room.observersPending.length > 0 && (
          <>
            <dt>Observers</dt>
            <dd>{room.observersPending.join(", ")}: waiting for both partners' approval</dd>
          </>
        )}
        <dt>Last activity</dt>
        <dd>
          <time dateTime={new Date(Number(room.lastActivityMs)).toISOString()}>{agoWords(Number(room.lastActivityMs), nowMs)}</time>
        </dd>
      </dl>
      <div class="row">
        <ObserveLink roomId={room.roomId} title={title} closed={room.phase === Phase.CLOSED} />
        {room.seriesId && (
          <button type="button" aria-expanded={trends.value} onClick={() => (trends.value = !trends.value)}>
            {trends.value ? "Hide the trends" : "Trends across this series"}
          </button>
        )}
      </div>
      {trends.value && <SeriesTrends client={client} seriesId={room.seriesId} />}
    </li>
  );
}

/**
 * The way into a conversation: the counselor's own invite link for it (the observer flow of
 * the room page). A link pasted once is checked against the room and kept for this tab.
 */
function ObserveLink({ roomId, title, closed }: { roomId: string; title: string; closed: boolean }) {
  const openWords = closed ? "See how it went" : "Open to observe";
  const asking = useSignal(false);
  const known = storedInvite(roomId);
  if (known) {
    return (
      <a class="button primary" href={`#invite=${encodeURIComponent(known)}`}>
        {openWords}
      </a>
    );
  }
  if (!asking.value) {
    return (
      <button type="button" onClick={() => (asking.value = true)}>
        {closed ? "See how it went..." : "Observe..."}
      </button>
    );
  }
  return <LinkForm roomId={roomId} title={title} openWords={openWords} onCancel={() => (asking.value = false)} />;
}

/** Asks for the counselor's link of `roomId` (focused when it appears), checks it, opens the room. */
function LinkForm(props: { roomId: string; title: string; openWords: string; onCancel: () => void }) {
  const { roomId } = props;
  const problem = useSignal("");
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);
  const fieldId = `link-${roomId}`;
  async function open(e: SubmitEvent) {
    e.preventDefault();
    const pasted = String(new FormData(e.currentTarget as HTMLFormElement).get("link") ?? "").trim();
    const token = tokenFromHash(pasted.includes("#") ? pasted.slice(pasted.indexOf("#")) : `#invite=${pasted}`);
    problem.value = "";
    if (!token) {
      problem.value = "That doesn't look like an invitation link. Paste the whole link you were given as the counselor.";
      return;
    }
    try {
      const answer = await http.getRoom(roomId, token);
      if (answer.roomId !== roomId || answer.view?.you?.role !== Role.OBSERVER) {
        problem.value = "This link is for someone else or another conversation. Paste the counselor link of this one.";
        return;
      }
      storeInvite(roomId, token);
      location.hash = `invite=${encodeURIComponent(token)}`;
    } catch (err) {
      problem.value = errorWords(err);
    }
  }
  return (
    <form class="stack observe" onSubmit={open}>
      <label for={fieldId}>Your counselor link for this conversation ({props.title})</label>
      <input id={fieldId} ref={field} name="link" type="password" autocomplete="off" spellcheck={false} />
      <div class="row">
        <button type="submit" class="primary">
          {props.openWords}
        </button>
        <button type="button" class="quiet" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      {problem.value && <Notice tone="error">{problem.value}</Notice>}
    </form>
  );
}
