import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/backoff.js";
import { constantRandom } from "../support/fakes.js";

describe("Backoff", () => {
  it("doubles from the initial delay up to the maximum without jitter", () => {
    const backoff = new Backoff({ initialMs: 200, maxMs: 1000, jitter: 0 }, constantRandom(0));
    expect(Array.from({ length: 5 }, () => backoff.next())).toEqual([200, 400, 800, 1000, 1000]);
  });

  it("jitter shortens each delay by up to its fraction", () => {
    // Byte 0x80 in every position: u = 0x80808080 / 2^32 ~ 0.502.
    const backoff = new Backoff({ initialMs: 1000, maxMs: 10_000, jitter: 0.5 }, constantRandom(0x80));
    expect(backoff.next()).toBe(749);
    const full = new Backoff({ initialMs: 1000, jitter: 1 }, constantRandom(0xff));
    expect(full.next()).toBe(0);
    const none = new Backoff({ initialMs: 1000, jitter: 1 }, constantRandom(0));
    expect(none.next()).toBe(1000);
  });

  it("gives up after maxAttempts consecutive attempts and starts over after reset", () => {
    const backoff = new Backoff({ initialMs: 100, jitter: 0, maxAttempts: 2 }, constantRandom(0));
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, undefined]);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(100);
  });

  it("clamps out-of-range policies", () => {
    const backoff = new Backoff({ initialMs: 500, maxMs: 100, multiplier: 0.5, jitter: 7 }, constantRandom(0));
    expect([backoff.next(), backoff.next()]).toEqual([500, 500]);
  });

  it("the defaults run 200 ms doubling to 10 s", () => {
    const backoff = new Backoff({ jitter: 0 }, constantRandom(0));
    const delays = Array.from({ length: 8 }, () => backoff.next());
    expect(delays).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  });
});
