import { describe, expect, it } from "vitest";
import { EventSequencer } from "../../src/sequencer.js";

describe("EventSequencer", () => {
  it("delivers each seq once, in order, and drops replays at or below the last delivered", () => {
    const sequencer = new EventSequencer();
    expect([1n, 2n, 2n, 1n, 3n].map((seq) => sequencer.accept(seq))).toEqual([true, true, false, false, true]);
    expect(sequencer.position.lastSeq).toBe(3n);
  });

  it("treats a seq gap as normal (events not visible to this participant)", () => {
    const sequencer = new EventSequencer();
    expect(sequencer.accept(1n)).toBe(true);
    expect(sequencer.accept(5n)).toBe(true);
    expect(sequencer.accept(4n)).toBe(false);
  });

  it("never delivers seq 0", () => {
    expect(new EventSequencer().accept(0n)).toBe(false);
  });

  it("resumes from a persisted position", () => {
    const sequencer = new EventSequencer({ epoch: 7n, lastSeq: 10n });
    expect(sequencer.position).toEqual({ epoch: 7n, lastSeq: 10n });
    expect(sequencer.accept(10n)).toBe(false);
    expect(sequencer.accept(11n)).toBe(true);
  });

  it("a recovered Welcome keeps the position and takes the epoch", () => {
    const sequencer = new EventSequencer({ epoch: 1n, lastSeq: 4n });
    expect(sequencer.onWelcome(2n, true, 9n)).toBe("resume");
    expect(sequencer.position).toEqual({ epoch: 2n, lastSeq: 4n });
  });

  it("an unrecovered Welcome resets to the view's last seq (a full redraw)", () => {
    const sequencer = new EventSequencer({ epoch: 1n, lastSeq: 4n });
    expect(sequencer.onWelcome(3n, false, 9n)).toBe("reset");
    expect(sequencer.position).toEqual({ epoch: 3n, lastSeq: 9n });
    expect(sequencer.accept(9n)).toBe(false);
    expect(sequencer.accept(10n)).toBe(true);
  });
});
