// Deterministic stand-ins for the Client's platform: a manual clock with timers, a scripted
// WebSocket, and a counting random source.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ClientFrameSchema,
  ServerFrameSchema,
  type ClientFrame,
} from "../../src/gen/mend/v1/frames_pb.js";
import type { RandomSource } from "../../src/backoff.js";
import type { Timers, WebSocketConstructor, WebSocketLike } from "../../src/platform.js";

/** Timers that fire only when the test advances the clock. */
export class ManualTimers implements Timers {
  private time = 1_000_000;
  private nextId = 1;
  private readonly due = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  /** Moves the clock by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, timer] of this.due) {
        if (timer.at <= end && timer.at < nextAt) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const timer = this.due.get(nextId)!;
      this.due.delete(nextId);
      this.time = timer.at;
      timer.callback();
    }
    this.time = end;
  }

  /** The delays (from now) of the pending timers. */
  pending(): number[] {
    return [...this.due.values()].map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }
}

/** Bytes 0, 1, 2, ... (wrapping), so ids and jitter are reproducible. */
export function countingRandom(): RandomSource {
  let next = 0;
  return (target) => {
    for (let i = 0; i < target.length; i++) target[i] = next++ & 0xff;
    return target;
  };
}

/** Always the same byte: jitter u = byte/256-ish. */
export function constantRandom(byte: number): RandomSource {
  return (target) => target.fill(byte);
}

export type ServerFrameInit = MessageInitShape<typeof ServerFrameSchema>;

/** One scripted connection: what the client sent, and controls to answer it. */
export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  protocol = "";
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: ClientFrame[] = [];
  closedByClient: number | undefined;

  constructor(
    readonly url: string,
    readonly protocols: string | string[],
  ) {}

  send(data: Uint8Array): void {
    this.sent.push(fromBinary(ClientFrameSchema, data));
  }

  close(code?: number): void {
    this.closedByClient = code ?? 1000;
    this.readyState = 3;
  }

  /** The server accepted the upgrade. */
  open(): void {
    this.readyState = 1;
    this.protocol = "mend.v1";
    this.onopen?.({});
  }

  /** The server sends one frame. */
  receive(frame: ServerFrameInit): void {
    const bytes = toBinary(ServerFrameSchema, create(ServerFrameSchema, frame));
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  /** The server closes (or the network fails: 1006). */
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The command frames sent on this socket. */
  commands() {
    return this.sent.flatMap((frame) => (frame.body.case === "command" ? [frame.body.value] : []));
  }
}

/** A WebSocket constructor that records every socket it makes. */
export function fakeNetwork(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  class Constructed extends FakeSocket {
    constructor(url: string, protocols: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Constructed,
    sockets,
    last: () => {
      const socket = sockets[sockets.length - 1];
      if (!socket) throw new Error("no socket was opened");
      return socket;
    },
  };
}

/** A ServerFrame item holding a Welcome. */
export function welcomeItem(options: { epoch?: bigint; recovered?: boolean; lastSeq?: bigint; roomId?: string } = {}) {
  return {
    body: {
      case: "welcome" as const,
      value: {
        participant: { role: 1 },
        view: { lastSeq: options.lastSeq ?? 0n },
        epoch: options.epoch ?? 1n,
        recovered: options.recovered ?? true,
        roomId: options.roomId ?? "room-1",
      },
    },
  };
}

/** A ServerFrame item holding a Shared event. */
export function sharedItem(seq: bigint, text = `text ${seq}`) {
  return { body: { case: "event" as const, value: { seq, body: { case: "shared" as const, value: { text } } } } };
}

/** A ServerFrame item holding a CommandResult. */
export function resultItem(commandId: string, accepted = true) {
  return {
    body: {
      case: "result" as const,
      value: accepted ? { commandId, accepted } : { commandId, accepted, rejection: { code: 1, message: "Not yet." } },
    },
  };
}

/** Lets pending promise callbacks run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
