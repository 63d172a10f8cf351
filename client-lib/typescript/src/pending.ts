// Bookkeeping of commands that were submitted and not yet answered by a CommandResult.
//
// Every command keeps its command_id for its whole life: after a reconnect the Client sends
// every pending command again, in submission order, with the SAME id, and the server answers a
// retried id with its original result without applying it twice (DESIGN 5). A result for an
// id that is no longer pending (a late duplicate) resolves nothing.
import type { Command } from "./gen/mend/v1/conversation_pb.js";
import type { RandomSource } from "./backoff.js";
import { ClientError, type CommandOutcome } from "./errors.js";

/** conversation.proto: a command_id is 1 to 64 bytes. */
const maxCommandIdBytes = 64;

/** A random 128-bit command id as 32 lower-case hex characters. */
export function makeCommandId(random: RandomSource): string {
  const bytes = random(new Uint8Array(16));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}

/** Called once with the command's outcome. */
export type CommandCompletion = (outcome: CommandOutcome) => void;

/** One waiting command. */
export interface PendingCommand {
  readonly command: Command;
  /** The encoded ClientFrame carrying the command (sent as is on every retry). */
  readonly frame: Uint8Array;
  readonly done: CommandCompletion;
  /** How many times it was sent (a first send or a retry). */
  sends: number;
  /** The connection (Client generation) it was last sent on; -1 before its first send. */
  sentOn: number;
}

/** The waiting commands, in submission order. Not synchronized (single-threaded JS). */
export class PendingCommands {
  private readonly byId = new Map<string, PendingCommand>(); // insertion order = submission

  /** `limit` bounds how many commands may wait at once. */
  constructor(private readonly limit: number) {}

  /**
   * Whether a command with `commandId` may be added now: undefined, or `too_many_pending` when
   * `limit` commands already wait, or `invalid_argument` when the id is empty, over 64 bytes,
   * or already pending.
   */
  admissible(commandId: string): ClientError | undefined {
    if (commandId.length === 0 || new TextEncoder().encode(commandId).length > maxCommandIdBytes) {
      return new ClientError("invalid_argument", "command_id must be 1 to 64 bytes");
    }
    if (this.byId.has(commandId)) {
      return new ClientError("invalid_argument", "a command with this command_id is pending");
    }
    if (this.byId.size >= this.limit) {
      return new ClientError("too_many_pending", "too many commands waiting for a result");
    }
    return undefined;
  }

  /** Registers a command (its command_id set); returns admissible()'s error, storing nothing. */
  add(command: Command, frame: Uint8Array, done: CommandCompletion): ClientError | undefined {
    const error = this.admissible(command.commandId);
    if (error) return error;
    this.byId.set(command.commandId, { command, frame, done, sends: 0, sentOn: -1 });
    return undefined;
  }

  /** Records one transmission of `commandId` on connection `generation`. */
  recordSend(commandId: string, generation: number): void {
    const entry = this.byId.get(commandId);
    if (!entry) return;
    entry.sends += 1;
    entry.sentOn = generation;
  }

  /** How many times `commandId` was sent; 0 for an unknown id. */
  sends(commandId: string): number {
    return this.byId.get(commandId)?.sends ?? 0;
  }

  /** The pending commands, oldest first: what to (re)send after a new Welcome. */
  inOrder(): PendingCommand[] {
    return [...this.byId.values()];
  }

  /** Removes `commandId` and hands back its completion; undefined when it is not pending. */
  resolve(commandId: string): CommandCompletion | undefined {
    const entry = this.byId.get(commandId);
    if (!entry) return undefined;
    this.byId.delete(commandId);
    return entry.done;
  }

  /**
   * The command that made the server close with 1009 (frame too large) on connection
   * `generation`: the largest one sent on it and still unanswered (the server reads frames in
   * order and answers each it could read, so the unread one is among these, and the limit is
   * by size). Undefined when none was sent on it.
   */
  oversizedSuspect(generation: number): PendingCommand | undefined {
    let suspect: PendingCommand | undefined;
    for (const entry of this.byId.values()) {
      if (entry.sentOn !== generation) continue;
      if (!suspect || entry.frame.length > suspect.frame.length) suspect = entry;
    }
    return suspect;
  }

  /** Removes every pending command and hands back their completions, oldest first. */
  takeAll(): CommandCompletion[] {
    const all = [...this.byId.values()].map((entry) => entry.done);
    this.byId.clear();
    return all;
  }

  /** How many commands wait. */
  get size(): number {
    return this.byId.size;
  }
}
