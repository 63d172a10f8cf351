// Reconnect delays: exponential backoff with jitter, bounded in size and (optionally) count.
// Pure: no clock, no I/O; the random source is injected so schedules are reproducible.

/**
 * Fills `target` with random bytes and returns it, like `crypto.getRandomValues`. The SDK
 * uses it for command ids (128 bits each) and backoff jitter.
 */
export type RandomSource = (target: Uint8Array) => Uint8Array;

/** The platform's CSPRNG (`globalThis.crypto.getRandomValues`): the default RandomSource. */
export function systemRandom(): RandomSource {
  const crypto = globalThis.crypto;
  if (!crypto?.getRandomValues) {
    throw new Error("mend-client: crypto.getRandomValues is not available");
  }
  return (target) => crypto.getRandomValues(target);
}

/** The reconnect schedule (same meaning and defaults as the C++ SDK's BackoffPolicy). */
export interface BackoffPolicy {
  /** Delay before the first reconnect attempt after a drop, before jitter (ms). Default 200. */
  initialMs: number;
  /** Upper bound of any delay, before jitter shortens it (ms). Default 10 000. */
  maxMs: number;
  /** Growth per consecutive failed attempt; >= 1. Default 2. */
  multiplier: number;
  /**
   * Fraction of each delay that is randomized, in [0, 1]: the delay is d * (1 - jitter * u)
   * with u uniform in [0, 1). 0 gives a fixed schedule, 1 is "full jitter". Default 0.5.
   */
  jitter: number;
  /** Consecutive failed attempts after which the client gives up (`gave_up`); 0: never. */
  maxAttempts: number;
}

/** The defaults: 200 ms doubling up to 10 s, half jitter, never give up. */
export const defaultBackoffPolicy: Readonly<BackoffPolicy> = Object.freeze({
  initialMs: 200,
  maxMs: 10_000,
  multiplier: 2,
  jitter: 0.5,
  maxAttempts: 0,
});

function clampPolicy(policy: Partial<BackoffPolicy>): BackoffPolicy {
  const merged = { ...defaultBackoffPolicy, ...policy };
  const initialMs = Math.max(merged.initialMs, 0);
  return {
    initialMs,
    maxMs: Math.max(merged.maxMs, initialMs),
    multiplier: Math.max(merged.multiplier, 1),
    jitter: Math.min(Math.max(merged.jitter, 0), 1),
    maxAttempts: Math.max(Math.floor(merged.maxAttempts), 0),
  };
}

/** Uniform in [0, 1) from 32 random bits. */
function unitInterval(random: RandomSource): number {
  const bytes = random(new Uint8Array(4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  return view.getUint32(0) / 0x1_0000_0000;
}

/**
 * The schedule of one reconnect episode: {@link Backoff.next} once per attempt,
 * {@link Backoff.reset} after a connection succeeded (the server sent Welcome).
 * Out-of-range policy values are clamped (multiplier >= 1, jitter in [0, 1], max >= initial).
 */
export class Backoff {
  private readonly policy: BackoffPolicy;
  private readonly random: RandomSource;
  private attemptCount = 0;

  constructor(policy: Partial<BackoffPolicy>, random: RandomSource) {
    this.policy = clampPolicy(policy);
    this.random = random;
  }

  /** The delay (ms) before the next attempt, or undefined when maxAttempts were made. */
  next(): number | undefined {
    const { initialMs, maxMs, multiplier, jitter, maxAttempts } = this.policy;
    if (maxAttempts !== 0 && this.attemptCount >= maxAttempts) return undefined;
    const grown = initialMs * multiplier ** this.attemptCount;
    const bounded = Math.min(grown, maxMs);
    this.attemptCount += 1;
    return Math.round(bounded * (1 - jitter * unitInterval(this.random)));
  }

  /** Starts over at `initialMs` with zero attempts. */
  reset(): void {
    this.attemptCount = 0;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attemptCount;
  }
}
