// RoomSession: the page's one live connection to a room, through the SDK's Client, held in
// signals that the screens render. It keeps only what the server sent (events by seq, the
// latest view, presence, typing) and decides nothing: the screens offer exactly the view's
// allowed actions.
//
// The whole room is replayed on each page load (storage: null): the timeline then needs no
// copy of conversation content in the browser's storage, and every message shows exactly once
// because events are kept by seq.
import { batch, computed, signal } from "@preact/signals";
import {
  Client,
  pageConnectUrl,
  type Actor,
  type ClientError,
  type CommandInput,
  type CommandOutcome,
  type ConnectionState,
  type Event,
  type Insights,
  type RoomView,
  type Template,
} from "@mend/client";
import { sameActorName } from "./words";

/** How long a typing notice stays shown without a new one (the SDK sends no "stopped" on drops). */
const kTypingShownMs = 5_000;

export class RoomSession {
  readonly token: string;
  /** The latest view: phase, floor, prompts and the actions allowed now. */
  readonly view = signal<RoomView | undefined>(undefined);
  /** Every event this participant may see, in seq order, each once. */
  readonly events = signal<readonly Event[]>([]);
  readonly connection = signal<ConnectionState>("idle");
  /** Set when the server closed for good (expired invite, revoked observer, erased room). */
  readonly closedFor = signal<ClientError | undefined>(undefined);
  readonly online = signal<readonly Actor[]>([]);
  readonly typing = signal<Actor | undefined>(undefined);
  readonly roomId = signal("");
  /** server time minus page time, for countdowns to the view's deadlines. */
  readonly serverOffsetMs = signal(0);
  readonly erasureRequestedBy = signal<Actor | undefined>(undefined);
  /** What the person is writing: kept across reconnects and re-renders until it is accepted. */
  readonly draft = signal("");
  /** The last refusal or failure to show: the server's own message when it rejected. */
  readonly problem = signal("");
  /** Advisory hints on the last accepted message (never blocking). */
  readonly hints = signal<readonly string[]>([]);
  /** The room's content-free figures, live for admitted counselors (partners never get them live). */
  readonly insights = signal<Insights | undefined>(undefined);
  /** The template the room was created with (seq 1 carries it whole). */
  readonly template = computed<Template | undefined>(() => {
    const first = this.events.value[0];
    return first?.body.case === "roomCreated" ? first.body.value.template : undefined;
  });

  private readonly client: Client;
  private readonly bySeq = new Map<bigint, Event>();
  private arrived: Event[] = [];
  private flushQueued = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  /** Between a Welcome and its ReplayDone: events and views are shown together at the end. */
  private replaying = false;
  private replayedView: RoomView | undefined;

  constructor(token: string) {
    this.token = token;
    this.client = new Client(
      { url: pageConnectUrl(), token, clientName: "mend-web/0.1", storage: null },
      {
        onWelcome: (welcome) => {
          this.replaying = true;
          performance.mark("mend:welcome");
          this.roomId.value = welcome.roomId;
          this.serverOffsetMs.value = Number(welcome.serverTimeMs) - Date.now();
        },
        onReset: () => this.clear(),
        onEvent: (event) => this.arrive(event),
        onView: (view) => {
          if (this.replaying) {
            this.replayedView = view;
            return;
          }
          this.show(view);
        },
        onReplayDone: () => {
          performance.mark("mend:replay-done");
          this.replaying = false;
          const view = this.replayedView ?? this.client.view;
          this.replayedView = undefined;
          if (view) this.show(view);
        },
        onInsights: (insights) => (this.insights.value = insights),
        onPresence: (presence) => (this.online.value = presence.online),
        onTyping: (notice) => this.showTyping(notice.who, notice.typing),
        onContentErased: (erased) => this.replace(erased.events),
        onRoomErasureRequested: (request) => (this.erasureRequestedBy.value = request.requestedBy),
        onState: (state) => (this.connection.value = state),
        onClosed: (error) => (this.closedFor.value = error),
      },
    );
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.client.stop();
  }

  /** Sends a command through the SDK (resent with the same id after a reconnect). */
  send(command: CommandInput): Promise<CommandOutcome> {
    return this.client.send(command);
  }

  /**
   * Sends a command and records how it went: true when accepted; otherwise `problem` holds the
   * server's rejection message (or why no answer came).
   */
  async act(command: CommandInput): Promise<boolean> {
    const outcome = await this.client.send(command);
    batch(() => {
      this.problem.value = outcome.accepted ? "" : outcomeWords(outcome);
      this.hints.value = outcome.result?.hints.map((hint) => hint.message) ?? [];
    });
    return outcome.accepted;
  }

  /** The server's clock now, as far as the page can tell. */
  serverNow(): number {
    return Date.now() + this.serverOffsetMs.value;
  }

  sendTyping(typing: boolean): void {
    this.client.sendTyping(typing);
  }

  private show(view: RoomView): void {
    const before = this.view.value;
    batch(() => {
      // A refusal is about the moment it happened in: a new phase or floor makes it stale.
      if (before && (before.phase !== view.phase || before.speaker !== view.speaker)) this.problem.value = "";
      this.flush();
      this.view.value = view;
    });
  }

  private arrive(event: Event): void {
    if (this.bySeq.has(event.seq)) return;
    this.bySeq.set(event.seq, event);
    this.arrived.push(event);
    if (this.typing.value && sameActorName(this.typing.value, event.actor)) this.typing.value = undefined;
    // Live events render with their frame's view; a replay's all at once at its end.
    if (!this.flushQueued && !this.replaying) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.arrived.length === 0) return;
    const next = this.events.value.concat(this.arrived);
    this.arrived = [];
    this.events.value = next;
  }

  private clear(): void {
    this.bySeq.clear();
    this.arrived = [];
    batch(() => {
      this.events.value = [];
      this.typing.value = undefined;
    });
  }

  private replace(rewritten: readonly Event[]): void {
    this.flush();
    for (const event of rewritten) this.bySeq.set(event.seq, event);
    this.events.value = this.events.value.map((event) => this.bySeq.get(event.seq) ?? event);
  }

  private showTyping(who: Actor | undefined, typing: boolean): void {
    clearTimeout(this.typingTimer);
    this.typing.value = typing ? who : undefined;
    if (typing) this.typingTimer = setTimeout(() => (this.typing.value = undefined), kTypingShownMs);
  }
}

function outcomeWords(outcome: CommandOutcome): string {
  if (outcome.rejection) return outcome.rejection.message || "That can't be done right now.";
  if (outcome.error?.code === "terminal_close") return "This conversation is closed to you now.";
  return outcome.error?.message ?? "That didn't go through. Please try again.";
}

