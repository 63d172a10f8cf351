// Exactly-once, in-order delivery of a room's events to the application across reconnects.
// Pure bookkeeping, the same rules as the C++ SDK's EventSequencer.

/** Where to resume: the epoch of the last Welcome and the last delivered seq. */
export interface ResumePosition {
  /** The room's epoch from the last Welcome (0n before the first). */
  epoch: bigint;
  /** The last seq delivered to the application (0n: replay everything). */
  lastSeq: bigint;
}

/**
 * Which seq was delivered last, which room epoch it belongs to, and whether an incoming event
 * is new. Events carry seq 1, 2, 3 ...; some seqs are never sent to a given participant
 * (another participant's private note, events before an observer was admitted), so a gap is
 * normal; anything at or below the last delivered seq is a duplicate and is dropped.
 */
export class EventSequencer {
  private currentEpoch: bigint;
  private lastDelivered: bigint;

  /** Starts from a persisted position (0n, 0n for a fresh start). */
  constructor(start: ResumePosition = { epoch: 0n, lastSeq: 0n }) {
    this.currentEpoch = start.epoch;
    this.lastDelivered = start.lastSeq;
  }

  /** The values for the next Hello: `room_epoch` and `resume_after_seq`. */
  get position(): ResumePosition {
    return { epoch: this.currentEpoch, lastSeq: this.lastDelivered };
  }

  /**
   * Records a Welcome's epoch. Returns "resume" when recovered (events after the position
   * follow), "reset" when not: the position jumps to `viewLastSeq` (the full view already
   * contains everything up to it) and the application must drop what it had.
   */
  onWelcome(epoch: bigint, recovered: boolean, viewLastSeq: bigint): "resume" | "reset" {
    this.currentEpoch = epoch;
    if (recovered) return "resume";
    this.lastDelivered = viewLastSeq;
    return "reset";
  }

  /**
   * True when the event with `seq` must be delivered now (and records it as delivered);
   * false for a duplicate or stale event (seq <= last delivered, or seq 0).
   */
  accept(seq: bigint): boolean {
    if (seq === 0n || seq <= this.lastDelivered) return false;
    this.lastDelivered = seq;
    return true;
  }
}
