// Where the Client keeps its resume position between page loads (DESIGN 5: a client that saw
// seq N resumes with resume_after_seq = N).
import type { ResumePosition } from "./sequencer.js";

/** A stored resume position, with the room it belongs to (checked against each Welcome). */
export interface StoredPosition extends ResumePosition {
  /** The room of the Welcome that set `epoch` ("" before the first Welcome). */
  roomId: string;
}

/**
 * Keeps resume positions by key. The Client's key is derived from its invite token (a hash,
 * never the token itself), so two invites in one tab never share a position. Calls are
 * synchronous and must not throw (a storage that fails should behave as empty).
 */
export interface ResumeStorage {
  /** The position saved under `key`, or undefined. */
  load(key: string): StoredPosition | undefined;
  /** Saves (replaces) the position under `key`. Called after every delivered frame. */
  save(key: string, position: StoredPosition): void;
  /** Forgets `key` (after a terminal close). */
  remove(key: string): void;
}

/** The subset of the Web Storage API the SDK uses (sessionStorage, localStorage). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A ResumeStorage in memory: positions live as long as the object. */
export function memoryResumeStorage(): ResumeStorage {
  const positions = new Map<string, StoredPosition>();
  return {
    load: (key) => {
      const found = positions.get(key);
      return found ? { ...found } : undefined;
    },
    save: (key, position) => void positions.set(key, { ...position }),
    remove: (key) => void positions.delete(key),
  };
}

/**
 * A ResumeStorage over Web Storage (`sessionStorage` in the browser: per tab, survives a
 * reload, gone when the tab closes). Stores only numbers and the room id, never a token or
 * content. Failures (quota, privacy modes) read as empty.
 */
export function webResumeStorage(storage: WebStorageLike): ResumeStorage {
  return {
    load: (key) => {
      try {
        const text = storage.getItem(key);
        if (text === null) return undefined;
        const parsed = JSON.parse(text) as { epoch?: unknown; lastSeq?: unknown; roomId?: unknown };
        if (typeof parsed.epoch !== "string" || typeof parsed.lastSeq !== "string") return undefined;
        return {
          epoch: BigInt(parsed.epoch),
          lastSeq: BigInt(parsed.lastSeq),
          roomId: typeof parsed.roomId === "string" ? parsed.roomId : "",
        };
      } catch {
        return undefined;
      }
    },
    save: (key, position) => {
      try {
        storage.setItem(
          key,
          JSON.stringify({
            epoch: position.epoch.toString(),
            lastSeq: position.lastSeq.toString(),
            roomId: position.roomId,
          }),
        );
      } catch {
        // A full or disabled storage only costs a longer replay after a reload.
      }
    },
    remove: (key) => {
      try {
        storage.removeItem(key);
      } catch {
        // As above.
      }
    },
  };
}

/**
 * The default: `sessionStorage` when the platform has one (a browser page), else memory.
 */
export function defaultResumeStorage(): ResumeStorage {
  const session = (globalThis as { sessionStorage?: WebStorageLike }).sessionStorage;
  return session ? webResumeStorage(session) : memoryResumeStorage();
}

/**
 * The storage key of an invite token: "mend.resume." and a 64-bit FNV-1a hash of the token in
 * hex. Not a secret-preserving hash (the page holds the token anyway); it keeps the token
 * itself out of storage and separates positions of different invites.
 */
export function resumeKey(token: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(token)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `mend.resume.${hash.toString(16).padStart(16, "0")}`;
}
