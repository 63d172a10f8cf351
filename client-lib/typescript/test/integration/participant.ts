// SDK participants for integration tests: a Client, what it saw, and a small autopilot that
// moves a conversation forward from the participant's view (the C++ SDK's Autopilot, for the
// speaker-listener path). Waits are bounded and woken by the client's handlers; the only timed
// wait is the server's own reflection beat (Rejection.retryAfterMs).
import WebSocket from "ws";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Client, type ClientOptions, type ConnectionState } from "../../src/client.js";
import { ClientError, type CommandOutcome } from "../../src/errors.js";
import { memoryResumeStorage } from "../../src/storage.js";
import { Role } from "../../src/gen/mend/v1/roles_pb.js";
import {
  Action,
  CommandSchema,
  Phase,
  RejectionCode,
  type Command,
  type Event,
  type RoomView,
} from "../../src/gen/mend/v1/conversation_pb.js";

export const boundMs = 15_000;
export const conversationBoundMs = 60_000;

/** Notifies waiters whenever any participant saw something. */
export class Changes {
  private waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves true once `ready()` holds, false after `bound` ms. */
  async waitUntil(ready: () => boolean, bound = boundMs): Promise<boolean> {
    const deadline = Date.now() + bound;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) return ready();
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
    return true;
  }
}

function allowed(view: RoomView, action: Action): boolean {
  return view.allowedActions.includes(action);
}

function command(body: MessageInitShape<typeof CommandSchema>["body"]): Command {
  return create(CommandSchema, { body });
}

/** The next command that moves the conversation forward for this view, or undefined. */
export function autopilot(view: RoomView, turnShares: Map<string, number>): Command | undefined {
  const isA = view.you?.role === Role.PARTNER_A;
  if (view.phase === Phase.CLOSED) return undefined;
  if (allowed(view, Action.JOIN)) return command({ case: "join", value: {} });
  if (allowed(view, Action.ACCEPT_INVITATION) && !isA) return command({ case: "acceptInvitation", value: {} });
  if (view.phase === Phase.CONSENT && allowed(view, Action.CONSENT) && !(isA ? view.aConsented : view.bConsented)) {
    return command({ case: "consent", value: { terms: { retentionDays: 30 } } });
  }
  if (allowed(view, Action.OPEN)) {
    return command({ case: "open", value: { intention: "I want us to understand each other.", topic: view.topic ? "" : "Evenings" } });
  }
  if (view.phase === Phase.CHECK_IN && allowed(view, Action.READY) && !(isA ? view.aReady : view.bReady)) {
    return command({ case: "ready", value: {} });
  }
  if (allowed(view, Action.REFLECT)) {
    return command({ case: "reflect", value: { kind: view.expectedReflection, text: "What I heard is that you miss our time together." } });
  }
  if (allowed(view, Action.CONFIRM)) return command({ case: "confirm", value: {} });
  if (view.phase === Phase.MORE && allowed(view, Action.NO_MORE)) return command({ case: "noMore", value: {} });
  if (allowed(view, Action.SHARE)) {
    const key = `${view.stageIndex}/${view.speaker}`;
    if (!turnShares.has(key)) {
      turnShares.set(key, 1);
      return command({ case: "share", value: { text: "When the evenings get busy, I miss time with you." } });
    }
    if (allowed(view, Action.NO_MORE)) return command({ case: "noMore", value: {} });
    if (allowed(view, Action.PASS_FLOOR)) return command({ case: "passFloor", value: {} });
    return undefined;
  }
  if (allowed(view, Action.ACCEPT_APOLOGY)) return command({ case: "acceptApology", value: {} });
  if (allowed(view, Action.UNDERSTOOD) && !(isA ? view.aUnderstood : view.bUnderstood)) {
    return command({ case: "understood", value: {} });
  }
  if (allowed(view, Action.PROBLEM_SOLVING_CHOICE)) return command({ case: "problemSolvingChoice", value: { optIn: false } });
  if (allowed(view, Action.FINISH_PROBLEM_SOLVING)) return command({ case: "finishProblemSolving", value: {} });
  if (view.phase === Phase.CLOSING && allowed(view, Action.APPRECIATE) && !(isA ? view.aDone : view.bDone)) {
    return command({ case: "appreciate", value: { text: "Thank you for listening to me today." } });
  }
  return undefined;
}

/** One participant: a Client over the `ws` package, and what it saw. */
export class Participant {
  readonly client: Client;
  readonly events: Event[] = [];
  closed: ClientError | undefined;
  /** What arrived, in order, among "erased" (ContentErased items) and "closed" (onClosed). */
  readonly endings: string[] = [];
  /** The views given to onReset (Welcome.recovered false). */
  readonly resets: RoomView[] = [];
  /** Every TypingNotice's `typing`, in arrival order. */
  readonly typing: boolean[] = [];
  welcomes = 0;
  private readonly turnShares = new Map<string, number>();

  constructor(
    private readonly changes: Changes,
    url: string,
    token: string,
    options: Partial<ClientOptions> = {},
  ) {
    this.client = new Client(
      {
        url,
        token,
        clientName: "mend-ts-integration-tests",
        WebSocket,
        backoff: { initialMs: 10, maxMs: 100 },
        storage: memoryResumeStorage(),
        ...options,
      },
      {
        onEvent: (event) => this.record(() => this.events.push(event)),
        onView: () => this.record(() => {}),
        onClosed: (error) => this.record(() => ((this.closed = error), this.endings.push("closed"))),
        onContentErased: () => this.record(() => this.endings.push("erased")),
        onTyping: (notice) => this.record(() => this.typing.push(notice.typing)),
        onReset: (view) => this.record(() => this.resets.push(view)),
        onState: (state: ConnectionState) => this.record(() => (this.welcomes += state === "online" ? 1 : 0)),
      },
    );
  }

  private record(change: () => void): void {
    change();
    this.changes.notify();
  }

  get view(): RoomView | undefined {
    return this.client.view;
  }

  get online(): boolean {
    return this.client.state === "online";
  }

  /** Sends and waits (bounded) for the outcome. */
  async send(input: Parameters<Client["send"]>[0]): Promise<CommandOutcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no outcome within the bound")), boundMs);
    });
    try {
      return await Promise.race([this.client.send(input), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One autopilot step; true when it sent something accepted (or waited out the beat). */
  async step(): Promise<boolean> {
    const view = this.view;
    if (!view || !this.online) return false;
    const next = autopilot(view, this.turnShares);
    if (!next) return false;
    const outcome = await this.send(next);
    if (outcome.accepted) return true;
    if (outcome.rejectionCode === RejectionCode.TOO_SOON) {
      // The server's reflection beat: a known, bounded time, given by the server.
      await new Promise((wake) => setTimeout(wake, outcome.rejection?.retryAfterMs ?? 25));
      return true;
    }
    return false; // the view was a moment old; the next view tells what to do
  }
}

/** Lets every participant's autopilot play until `done()`, bounded. */
export async function playUntil(
  changes: Changes,
  players: Participant[],
  done: () => boolean,
  bound = conversationBoundMs,
): Promise<boolean> {
  const deadline = Date.now() + bound;
  while (!done()) {
    if (Date.now() > deadline) return false;
    let acted = false;
    for (const player of players) acted = (await player.step()) || acted;
    if (!acted) await changes.waitUntil(done, 100);
  }
  return true;
}

/** Seqs 1, 2, 3 ... each once (partners see every event of a room without notes). */
export function contiguousFromOne(events: Event[]): boolean {
  return events.every((event, index) => event.seq === BigInt(index + 1));
}

export function countKind(events: Event[], kind: NonNullable<Event["body"]["case"]>): number {
  return events.filter((event) => event.body.case === kind).length;
}
