// Client: one participant's live connection to a mend room, over a WHATWG WebSocket.
//
// The same contract as the C++ SDK's mend::client::Client (client-lib/include/mend/client.h):
// connects to `GET /v1/connect` (subprotocol `mend.v1`, binary frames), sends Hello with its
// invite token and resume position, and keeps the connection alive: after a drop it reconnects
// with exponential backoff and jitter and resumes after the last event it delivered.
import { clone, create, fromBinary, isMessage, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Actor } from "./gen/mend/v1/roles_pb.js";
import { CommandSchema, type Command, type Event, type RoomView } from "./gen/mend/v1/conversation_pb.js";
import {
  ClientFrameSchema,
  ServerFrameSchema,
  type ContentErased,
  type Presence,
  type RoomErasureRequested,
  type ServerFrame,
  type ServerItem,
  type TypingNotice,
  type Welcome,
} from "./gen/mend/v1/frames_pb.js";
import type { Insights } from "./gen/mend/v1/insights_pb.js";
import { Backoff, systemRandom, type BackoffPolicy, type RandomSource } from "./backoff.js";
import { ClientError, CloseCode, CommandOutcome, isTerminalClose } from "./errors.js";
import { makeCommandId, PendingCommands, type CommandCompletion } from "./pending.js";
import { EventSequencer, type ResumePosition } from "./sequencer.js";
import { defaultResumeStorage, resumeKey, type ResumeStorage } from "./storage.js";
import {
  browserLifecycle,
  systemTimers,
  type Lifecycle,
  type LifecycleChange,
  type Timers,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./platform.js";

/** The WebSocket subprotocol of this SDK's wire format (DESIGN 5). */
export const subprotocol = "mend.v1";

/**
 * - `idle`: constructed, start() not called.
 * - `connecting`: WebSocket handshake and Hello under way.
 * - `online`: Welcome received: events flow, commands are sent at once.
 * - `waiting`: connection lost; waiting out the backoff delay before reconnecting.
 * - `offline`: setOnline(false): disconnected on purpose until setOnline(true).
 * - `closed`: stopped, terminal close code, or gave up; final.
 */
export type ConnectionState = "idle" | "connecting" | "online" | "waiting" | "offline" | "closed";

/** A Command, or the plain object to create one from, e.g. `{ body: { case: "share", value: { text } } }`. */
export type CommandInput = Command | MessageInitShape<typeof CommandSchema>;

/** The case names of Event.body, e.g. "shared", "reflected". */
export type EventKind = NonNullable<Event["body"]["case"]>;

/** An Event whose body is of kind `K`. */
export type EventOfKind<K extends EventKind> = Event & { body: Extract<Event["body"], { case: K }> };

/** Options of a {@link Client}; only `url` and `token` are required. */
export interface ClientOptions {
  /**
   * `ws://host:port/path` or `wss://...`; `http://` and `https://` are taken as `ws://` and
   * `wss://`. A URL without a path, or with `/v1/connect`, connects to `/v1/connect/{room}`
   * (the room read from the token; see {@link roomOfToken}). See {@link pageConnectUrl}.
   */
  url: string;
  /** The invite token (bearer credential). Sent only inside Hello; never logged or stored. */
  token: string;
  /** For the server's logs and metrics only. Default "mend-client-ts/0.1". */
  clientName?: string;
  /**
   * The WebSocket constructor: the browser's global `WebSocket` by default; under Node pass
   * the `ws` package's `WebSocket`.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Where to start when the application persisted a position itself. When absent, the
   * position saved in `storage` under this token is used, else 0, 0 (replay from the start).
   */
  resumeFrom?: ResumePosition;
  /**
   * Where the resume position is kept after every delivered frame, so that a page reload
   * resumes without replaying what the page already showed. Default: `sessionStorage` in a
   * browser, memory elsewhere ({@link defaultResumeStorage}); `null` keeps none.
   * An application that resumes this way must keep what it showed itself (or pass
   * `storage: null` to get the whole room replayed on each load).
   */
  storage?: ResumeStorage | null;
  /** Reconnect schedule; the defaults are {@link defaultBackoffPolicy}. */
  backoff?: Partial<BackoffPolicy>;
  /** Random bytes for command ids and jitter; default `crypto.getRandomValues`. */
  random?: RandomSource;
  /** Timers and clock; default the platform's. */
  timers?: Timers;
  /**
   * Network and visibility notifications; default the browser's window/document events
   * ({@link browserLifecycle}), none under Node; `null` disables them. "online" and "visible"
   * reconnect at once when waiting (skipping the backoff delay); "offline" drops the
   * connection (it reconnects per the backoff when the network returns, or at once on
   * "online"); "visible" while online sends a keepalive.
   */
  lifecycle?: Lifecycle | null;
  /** Bound on the WebSocket handshake plus Welcome (ms). Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * The connection is taken as lost after this long without any frame from the server (ms;
   * the server sends a Heartbeat after 25 s of silence). Default 75 000.
   */
  idleTimeoutMs?: number;
  /**
   * When the client has sent nothing for this long while online it sends an unsolicited
   * HeartbeatAck, so a quiet participant in a busy room is not taken for silent (ms; 0
   * disables). Default 20 000.
   */
  keepaliveIntervalMs?: number;
  /** Commands that may wait for a result at once; more fail with `too_many_pending`. Default 1024. */
  maxPendingCommands?: number;
  /**
   * Largest ClientFrame sent; a larger command fails at once with `frame_too_large`
   * (the server's default `--read-message-max` is 64 KiB). Default 65 536.
   */
  maxClientFrameBytes?: number;
}

/**
 * Application callbacks; all optional. Called one at a time. Within one server frame:
 * onWelcome / onReset, then each item's handler in order (onEvent then the per-kind handler
 * for each new event), then onView; the promises of the commands the frame answered resolve
 * after that, so when `send` resolves the events it caused were delivered and `view` shows
 * them. A handler that throws does not stop delivery (the error is rethrown asynchronously).
 */
export interface ClientHandlers {
  /** Every new event, exactly once, in seq order. */
  onEvent?: (event: Event) => void;
  /** Per-kind dispatch, after onEvent, e.g. `{ shared: (e) => e.body.value.text }`. */
  byKind?: { [K in EventKind]?: (event: EventOfKind<K>) => void };
  /** The latest view after it changed (also after each Welcome). */
  onView?: (view: RoomView) => void;
  /** Each Welcome (first connect and every resume). */
  onWelcome?: (welcome: Welcome) => void;
  /**
   * Welcome.recovered was false: drop what was shown; `view` is the full current state and
   * delivery continues after view.lastSeq.
   */
  onReset?: (view: RoomView) => void;
  /** End of the replay after a Welcome: live events follow. */
  onReplayDone?: (lastSeq: bigint) => void;
  /** Who is connected now (ephemeral). */
  onPresence?: (presence: Presence) => void;
  /**
   * Another participant started or stopped typing (ephemeral, never replayed). A partner that
   * goes offline or sends a command sends no "stopped": hide the indicator after a few seconds
   * without a new notice, or on that partner's next event.
   */
  onTyping?: (notice: TypingNotice) => void;
  /**
   * The room's stored history was rewritten (erasure, retention purge): replace the events in
   * `erased.events` (same seqs, texts "[erased]") in what you show. For a whole-room erasure
   * a terminal close (4503) follows.
   */
  onContentErased?: (erased: ContentErased) => void;
  /**
   * Observers admitted by both partners (counselors): the room's content-free insights after
   * the replay and with every frame of events (issue 14); partners never get them live.
   */
  onInsights?: (insights: Insights) => void;
  /** A partner asked to erase the whole room; erased when the other partner asks too. */
  onRoomErasureRequested?: (request: RoomErasureRequested) => void;
  /** Every change of state; `error` says why for `waiting` and `closed`. */
  onState?: (state: ConnectionState, error: ClientError | undefined) => void;
  /** The client closed for good because of the server or the network; not called for stop(). */
  onClosed?: (error: ClientError) => void;
}

/**
 * The connect URL for a page served by mendd: `wss:` when the page came over `https:`, else
 * `ws:`, same host and port, path `/v1/connect`.
 */
export function pageConnectUrl(location: { protocol: string; host: string } = globalThis.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/connect`;
}

/**
 * The room id an invite token is for, read from its payload without verifying it (the server
 * verifies; the id is not a secret). Payload: version 1 | role | expires_at_ms (8) | room id
 * length | room id | ...; undefined when the token is not of that format.
 */
export function roomOfToken(token: string): string | undefined {
  const dot = token.indexOf(".");
  if (dot <= 0) return undefined;
  let bytes: string;
  try {
    bytes = atob(token.slice(0, dot).replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
  const length = bytes.length > 10 ? bytes.charCodeAt(10) : 0;
  if (bytes.charCodeAt(0) !== 1 || length === 0 || bytes.length < 11 + length) return undefined;
  const room = bytes.slice(11, 11 + length);
  return /^[A-Za-z0-9_-]+$/.test(room) ? room : undefined;
}

/**
 * A URL without a path, or with `/v1/connect`, connects to `/v1/connect/{room}` (the room from
 * the token) so that a router (HAProxy) sends every participant of a room to the same node.
 */
function normalizeUrl(raw: string, token = ""): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const schemes: Record<string, string> = { "ws:": "ws:", "wss:": "wss:", "http:": "ws:", "https:": "wss:" };
  const scheme = schemes[url.protocol];
  if (!scheme || url.host === "") return undefined;
  const room = roomOfToken(token);
  const connect = room === undefined ? "/v1/connect" : `/v1/connect/${room}`;
  const path = ["/", "", "/v1/connect"].includes(url.pathname) ? connect : url.pathname;
  return `${scheme}//${url.host}${path}`;
}

function defaultWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/**
 * One participant's live connection to a mend room.
 *
 * Exactly once, in order: an event is delivered only if its seq is above the last delivered
 * seq; replays overlapping what was delivered are dropped; seq gaps are normal (some events are
 * not visible to every participant). When the server cannot replay the gap
 * (Welcome.recovered false), onReset is called with the full view.
 *
 * Close codes: 4000-4499, other closes by the server and transport failures -> reconnect and
 * resume; 4500-4999 -> terminal: onClosed with `terminal_close` and the code, pending commands
 * fail with the same error, the stored resume position is removed, and the client stays
 * closed. 1009 (a frame over the server's limit) fails the command that caused it with
 * `frame_too_large` instead of resending it, then reconnects.
 *
 * ```ts
 * const client = new Client({ url: pageConnectUrl(), token }, {
 *   onEvent: (e) => timeline.add(e),
 *   onView: (v) => render(v),
 * });
 * client.start();
 * const outcome = await client.send({ body: { case: "share", value: { text } } });
 * if (!outcome.accepted) show(outcome.rejection?.message ?? outcome.error?.message);
 * ```
 */
export class Client {
  private readonly options: ClientOptions;
  private readonly handlers: ClientHandlers;
  private readonly random: RandomSource;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly sequencer: EventSequencer;
  private readonly pending: PendingCommands;
  private readonly storage: ResumeStorage | null;
  private readonly storageKey: string;
  private url = "";
  private socket: WebSocketLike | undefined;
  private generation = 0; // bumped whenever a socket ends; stale callbacks see it
  private welcomed = false;
  private onlineWanted = true;
  private started = false;
  private closed = false;
  private closedError: ClientError | undefined;
  private connectionState: ConnectionState = "idle";
  private latestView: RoomView | undefined;
  private me: Actor | undefined;
  private room = "";
  private lastWriteAt = 0;
  private retryTimer: unknown;
  private connectTimer: unknown;
  private idleTimer: unknown;
  private keepaliveTimer: unknown;
  private unsubscribeLifecycle: (() => void) | undefined;

  /** Stores the options and handlers; does not connect (see {@link Client.start}). */
  constructor(options: ClientOptions, handlers: ClientHandlers = {}) {
    this.options = options;
    this.handlers = handlers;
    this.random = options.random ?? systemRandom();
    this.timers = options.timers ?? systemTimers();
    this.backoff = new Backoff(options.backoff ?? {}, this.random);
    this.pending = new PendingCommands(options.maxPendingCommands ?? 1024);
    this.storage = options.storage === undefined ? defaultResumeStorage() : options.storage;
    this.storageKey = resumeKey(options.token);
    const stored = this.storage?.load(this.storageKey);
    this.sequencer = new EventSequencer(options.resumeFrom ?? stored ?? { epoch: 0n, lastSeq: 0n });
  }

  /**
   * Validates the options and starts connecting. Throws a ClientError `invalid_argument`
   * (nothing started) for a malformed URL, an empty token, no WebSocket constructor, or a
   * second call.
   */
  start(): void {
    if (this.started) throw new ClientError("invalid_argument", "start() was already called");
    const url = normalizeUrl(this.options.url, this.options.token);
    if (!url) throw new ClientError("invalid_argument", "malformed server URL");
    if (this.options.token === "") throw new ClientError("invalid_argument", "empty token");
    if (!(this.options.WebSocket ?? defaultWebSocket())) {
      throw new ClientError("invalid_argument", "no WebSocket: pass options.WebSocket (e.g. the ws package)");
    }
    this.started = true;
    this.url = url;
    const lifecycle = this.options.lifecycle === undefined ? browserLifecycle() : this.options.lifecycle;
    this.unsubscribeLifecycle = lifecycle?.subscribe((change) => this.onLifecycle(change));
    this.connect();
  }

  /**
   * Closes the connection (code 1000), resolves every pending command with `stopped` and
   * moves to `closed`. No handler runs afterwards. The stored resume position is kept (a page
   * being left resumes on its next load). Idempotent.
   */
  stop(): void {
    if (this.closed) return;
    this.endSocket(true);
    this.closed = true;
    this.closedError = new ClientError("stopped", "the client was stopped");
    this.clearTimers();
    this.unsubscribeLifecycle?.();
    this.connectionState = "closed";
    this.failPending(this.closedError);
  }

  /**
   * Sends a command; the promise resolves with its outcome and never rejects. An empty
   * commandId gets a random 128-bit hex id; a given one is kept (the server answers a retried
   * id with the original result). The command is sent now when online, else after the next
   * Welcome; an unanswered command is sent again, with the same id, after every reconnect
   * until answered. Errors in the outcome: `invalid_argument` (no body, bad or duplicate id),
   * `too_many_pending`, `frame_too_large`, `stopped`, `terminal_close`, `gave_up`.
   */
  send(command: CommandInput): Promise<CommandOutcome> {
    return new Promise((resolve) => this.submit(command, resolve));
  }

  /**
   * Tells the other participants whether this one is typing (ephemeral, never stored, not
   * retried; dropped while not online). The server relays a partner's typing only while their
   * view offers a text action, at most one "typing" per second: call sendTyping(true) on every
   * keystroke and sendTyping(false) when the text is sent or cleared.
   */
  sendTyping(typing: boolean): void {
    if (this.closed || !this.welcomed) return;
    this.write(toBinary(ClientFrameSchema, create(ClientFrameSchema, { body: { case: "typing", value: { typing } } })));
  }

  /**
   * false: closes the connection (code 1000) and stays disconnected, keeping pending commands
   * and the resume position; true: connects again at once (backoff restarts). For apps that
   * go to the background. No effect once closed or before start().
   */
  setOnline(online: boolean): void {
    const changed = online !== this.onlineWanted;
    this.onlineWanted = online;
    if (this.closed || !this.started || !changed) return;
    if (online) {
      this.backoff.reset();
      this.connect();
      return;
    }
    this.endSocket(true);
    this.setState("offline", undefined);
  }

  /**
   * Drops the current connection abruptly, as a network failure would; the client reconnects
   * per its backoff policy and resumes. For tests and network changes.
   */
  dropConnection(): void {
    if (this.closed || !this.socket) return;
    this.lost(this.generation, new ClientError("network", "connection dropped by the application"));
  }

  /** The latest view (with the actions allowed now), or undefined before the first Welcome. */
  get view(): RoomView | undefined {
    return this.latestView;
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.connectionState;
  }

  /** Who this client is; undefined before the first Welcome. */
  get participant(): Actor | undefined {
    return this.me;
  }

  /** The room's id; "" before the first Welcome. */
  get roomId(): string {
    return this.room;
  }

  /** The last seq delivered to the application (the resume position). */
  get lastDeliveredSeq(): bigint {
    return this.sequencer.position.lastSeq;
  }

  /** The room's epoch from the last Welcome. */
  get epoch(): bigint {
    return this.sequencer.position.epoch;
  }

  /** Commands waiting for a result. */
  get pendingCommands(): number {
    return this.pending.size;
  }

  // ---------------------------------------------------------------------------------------

  private submit(input: CommandInput, done: CommandCompletion): void {
    if (this.closed) return done(CommandOutcome.failed(this.closedError!));
    const command = isMessage(input, CommandSchema) ? clone(CommandSchema, input) : create(CommandSchema, input);
    if (command.body.case === undefined) {
      return done(CommandOutcome.failed(new ClientError("invalid_argument", "the command has no body")));
    }
    if (command.commandId === "") command.commandId = makeCommandId(this.random);
    const frame = toBinary(ClientFrameSchema, create(ClientFrameSchema, { body: { case: "command", value: command } }));
    const limit = this.options.maxClientFrameBytes ?? 65_536;
    if (frame.length > limit) {
      return done(CommandOutcome.failed(new ClientError("frame_too_large", `the command is over ${limit} bytes`)));
    }
    const error = this.pending.add(command, frame, done);
    if (error) return done(CommandOutcome.failed(error));
    if (this.welcomed) {
      this.pending.recordSend(command.commandId, this.generation);
      this.write(frame);
    }
  }

  private onLifecycle(change: LifecycleChange): void {
    if (this.closed || !this.onlineWanted) return;
    if (change === "offline" && this.socket) {
      this.lost(this.generation, new ClientError("network", "the device went offline"));
    } else if ((change === "online" || change === "visible") && this.connectionState === "waiting") {
      this.backoff.reset();
      this.connect();
    } else if (change === "visible" && this.welcomed) {
      this.sendAck();
    }
  }

  private connect(): void {
    if (this.closed || !this.onlineWanted) return;
    this.endSocket(false);
    const generation = this.generation;
    this.setState("connecting", undefined);
    const WebSocketImpl = (this.options.WebSocket ?? defaultWebSocket()) as unknown as new (
      url: string,
      protocols: string[],
    ) => WebSocketLike;
    let socket: WebSocketLike;
    try {
      socket = new WebSocketImpl(this.url, [subprotocol]);
    } catch (error) {
      return this.lost(generation, new ClientError("network", `connect failed: ${String(error)}`));
    }
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    this.connectTimer = this.timers.setTimeout(
      () => this.lost(generation, new ClientError("network", "connect timed out")),
      this.options.connectTimeoutMs ?? 10_000,
    );
    socket.onopen = () => {
      if (this.current(generation)) this.opened();
    };
    socket.onmessage = (message) => {
      if (this.current(generation)) this.received(generation, message.data);
    };
    socket.onclose = (close) => {
      if (this.current(generation)) this.closedByPeer(generation, close.code, close.reason);
    };
    socket.onerror = () => {
      // A close event follows every error; it decides what happens.
    };
  }

  private current(generation: number): boolean {
    return !this.closed && generation === this.generation;
  }

  /** Ends the current socket (if any); every callback of it becomes stale. */
  private endSocket(graceful: boolean): void {
    this.generation += 1;
    this.welcomed = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Not null: Node's `ws` emits "error" when a connecting socket is aborted, and an
    // EventEmitter without an error listener would throw.
    socket.onerror = () => {};
    const terminate = (socket as { terminate?: () => void }).terminate;
    try {
      if (!graceful && typeof terminate === "function") terminate.call(socket);
      else socket.close(1000);
    } catch {
      // Closing a socket that is still connecting may throw in some implementations.
    }
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.connectTimer, this.idleTimer, this.keepaliveTimer]) {
      if (timer !== undefined) this.timers.clearTimeout(timer);
    }
    this.retryTimer = this.connectTimer = this.idleTimer = this.keepaliveTimer = undefined;
  }

  private opened(): void {
    const { epoch, lastSeq } = this.sequencer.position;
    const hello = create(ClientFrameSchema, {
      body: {
        case: "hello",
        value: {
          token: this.options.token,
          roomEpoch: epoch,
          resumeAfterSeq: lastSeq,
          clientName: this.options.clientName ?? "mend-client-ts/0.1",
        },
      },
    });
    this.write(toBinary(ClientFrameSchema, hello));
    this.armIdle(this.generation);
  }

  private armIdle(generation: number): void {
    if (this.idleTimer !== undefined) this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = this.timers.setTimeout(
      () => this.lost(generation, new ClientError("network", "no frame from the server for too long")),
      this.options.idleTimeoutMs ?? 75_000,
    );
  }

  private received(generation: number, data: unknown): void {
    const bytes = toBytes(data);
    let frame: ServerFrame;
    try {
      if (!bytes) throw new Error("not a binary frame");
      frame = fromBinary(ServerFrameSchema, bytes);
    } catch {
      return this.lost(generation, new ClientError("protocol", "undecodable frame"));
    }
    this.armIdle(generation);
    this.handleFrame(generation, frame);
  }

  private closedByPeer(generation: number, code: number, reason: string): void {
    const description = `${code}${reason ? ` ${reason}` : ""}`;
    if (isTerminalClose(code)) {
      return this.closeForGood(
        new ClientError("terminal_close", `the server closed the connection for good (${description})`, {
          closeCode: code,
        }),
      );
    }
    if (code === CloseCode.MessageTooBig) {
      const suspect = this.pending.oversizedSuspect(generation);
      const done = suspect && this.pending.resolve(suspect.command.commandId);
      done?.(
        CommandOutcome.failed(
          new ClientError("frame_too_large", "the server refused the command's frame as too large (1009)", {
            closeCode: code,
          }),
        ),
      );
      if (!this.current(generation)) return;
    }
    this.lost(
      generation,
      new ClientError("network", `the server closed the connection (${description})`, { closeCode: code }),
    );
  }

  /** The connection of `generation` is gone: wait out the backoff delay, then reconnect. */
  private lost(generation: number, why: ClientError): void {
    if (!this.current(generation)) return;
    this.endSocket(false);
    if (!this.onlineWanted) return;
    const delay = this.backoff.next();
    if (delay === undefined) {
      return this.closeForGood(
        new ClientError("gave_up", `gave up reconnecting: ${why.message}`, { closeCode: why.closeCode }),
      );
    }
    this.setState("waiting", why);
    const retryGeneration = this.generation;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.current(retryGeneration)) this.connect();
    }, delay);
  }

  private handleFrame(generation: number, frame: ServerFrame): void {
    const answered: Array<[CommandCompletion, CommandOutcome]> = [];
    for (const item of frame.items) {
      if (!this.current(generation)) return;
      this.handleItem(item, answered);
    }
    if (!this.current(generation)) return;
    if (frame.view) {
      this.latestView = frame.view;
      this.call(() => this.handlers.onView?.(frame.view!));
    }
    this.savePosition();
    for (const [done, outcome] of answered) {
      if (this.closed) return;
      done(outcome);
    }
  }

  private handleItem(item: ServerItem, answered: Array<[CommandCompletion, CommandOutcome]>): void {
    const body = item.body;
    switch (body.case) {
      case "welcome":
        return this.welcome(body.value);
      case "result": {
        const done = this.pending.resolve(body.value.commandId);
        if (done) answered.push([done, CommandOutcome.answered(body.value)]);
        return;
      }
      case "event":
        return this.deliver(body.value);
      case "heartbeat":
        return this.sendAck();
      case "presence":
        return this.call(() => this.handlers.onPresence?.(body.value));
      case "typing":
        return this.call(() => this.handlers.onTyping?.(body.value));
      case "replayDone":
        return this.call(() => this.handlers.onReplayDone?.(body.value.lastSeq));
      case "contentErased":
        return this.call(() => this.handlers.onContentErased?.(body.value));
      case "roomErasureRequested":
        return this.call(() => this.handlers.onRoomErasureRequested?.(body.value));
      case "insights":
        return this.call(() => this.handlers.onInsights?.(body.value));
      case undefined:
        return;
    }
  }

  private welcome(welcome: Welcome): void {
    this.welcomed = true;
    this.backoff.reset();
    if (this.connectTimer !== undefined) this.timers.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const view = welcome.view;
    const outcome = this.sequencer.onWelcome(welcome.epoch, welcome.recovered, view?.lastSeq ?? 0n);
    this.me = welcome.participant;
    this.room = welcome.roomId;
    this.latestView = view;
    this.setState("online", undefined);
    this.scheduleKeepalive(this.generation);
    this.call(() => this.handlers.onWelcome?.(welcome));
    if (outcome === "reset" && view) this.call(() => this.handlers.onReset?.(view));
    if (view) this.call(() => this.handlers.onView?.(view));
    this.resendPending();
  }

  private resendPending(): void {
    for (const entry of this.pending.inOrder()) {
      this.pending.recordSend(entry.command.commandId, this.generation);
      this.write(entry.frame);
    }
  }

  private deliver(event: Event): void {
    if (!this.sequencer.accept(event.seq)) return;
    this.call(() => this.handlers.onEvent?.(event));
    const kind = event.body.case;
    if (kind === undefined) return;
    const handler = this.handlers.byKind?.[kind] as ((event: Event) => void) | undefined;
    if (handler) this.call(() => handler(event));
  }

  private sendAck(): void {
    const ack = create(ClientFrameSchema, {
      body: { case: "heartbeatAck", value: { lastSeqReceived: this.sequencer.position.lastSeq } },
    });
    this.write(toBinary(ClientFrameSchema, ack));
  }

  private scheduleKeepalive(generation: number): void {
    const interval = this.options.keepaliveIntervalMs ?? 20_000;
    if (interval <= 0) return;
    this.keepaliveTimer = this.timers.setTimeout(() => {
      this.keepaliveTimer = undefined;
      if (!this.current(generation) || !this.welcomed) return;
      if (this.timers.now() - this.lastWriteAt >= interval) this.sendAck();
      this.scheduleKeepalive(generation);
    }, interval);
  }

  private savePosition(): void {
    this.storage?.save(this.storageKey, { ...this.sequencer.position, roomId: this.room });
  }

  private write(bytes: Uint8Array): void {
    if (!this.socket) return;
    this.lastWriteAt = this.timers.now();
    try {
      this.socket.send(bytes);
    } catch {
      // Sending on a socket that is closing: its close event follows and decides.
    }
  }

  private failPending(error: ClientError): void {
    for (const done of this.pending.takeAll()) done(CommandOutcome.failed(error));
  }

  private closeForGood(error: ClientError): void {
    if (this.closed) return;
    this.endSocket(false);
    this.closed = true;
    this.closedError = error;
    this.unsubscribeLifecycle?.();
    // A terminal close makes the position useless (room erased, token expired); after giving
    // up on the network it stays valid for a later start.
    if (error.code === "terminal_close") this.storage?.remove(this.storageKey);
    this.failPending(error);
    this.setState("closed", error);
    this.call(() => this.handlers.onClosed?.(error));
  }

  private setState(state: ConnectionState, why: ClientError | undefined): void {
    if (this.connectionState === state) return;
    this.connectionState = state;
    this.call(() => this.handlers.onState?.(state, why));
  }

  /** Runs an application handler; its exception is rethrown asynchronously, never stopping delivery. */
  private call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
