// What the Client needs from its platform, injectable for tests and non-browser runtimes:
// a WHATWG WebSocket constructor, timers and a clock, and online/visibility notifications.

/** The part of a WHATWG WebSocket the SDK uses (the browser's, or the `ws` package's). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor, `new (url, protocols)`: the browser's `WebSocket` or the `ws`
 * package's. Typed loosely so that both fit without a cast; what it constructs must behave as a
 * {@link WebSocketLike} (binaryType "arraybuffer", the on* handlers, send, close).
 */
export type WebSocketConstructor = new (url: string, protocols: string[]) => object;

/** Timers and a clock (ms). Defaults: the global setTimeout/clearTimeout and Date.now. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

/** The platform's timers. */
export function systemTimers(): Timers {
  return {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
    now: () => Date.now(),
  };
}

/** A change the platform reports: the network came back or went away, the page was shown or hidden. */
export type LifecycleChange = "online" | "offline" | "visible" | "hidden";

/**
 * Notifies the Client of network and visibility changes. `subscribe` returns the function that
 * unsubscribes (called by Client.stop and on a terminal close).
 */
export interface Lifecycle {
  subscribe(listener: (change: LifecycleChange) => void): () => void;
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * The browser's hooks: `window` online/offline and `document` visibilitychange. Undefined
 * where there is no window (Node), so the Client then runs without lifecycle hooks.
 */
export function browserLifecycle(): Lifecycle | undefined {
  const win = (globalThis as { window?: EventTargetLike }).window;
  const doc = (globalThis as { document?: EventTargetLike & { visibilityState?: string } }).document;
  if (!win) return undefined;
  return {
    subscribe(listener) {
      const online = () => listener("online");
      const offline = () => listener("offline");
      const visibility = () => listener(doc?.visibilityState === "hidden" ? "hidden" : "visible");
      win.addEventListener("online", online);
      win.addEventListener("offline", offline);
      doc?.addEventListener("visibilitychange", visibility);
      return () => {
        win.removeEventListener("online", online);
        win.removeEventListener("offline", offline);
        doc?.removeEventListener("visibilitychange", visibility);
      };
    },
  };
}
