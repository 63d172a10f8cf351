import { describe, expect, it } from "vitest";
import { resumeKey, webResumeStorage, type WebStorageLike } from "../../src/storage.js";

function fakeWebStorage(): WebStorageLike & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

describe("webResumeStorage", () => {
  it("round-trips a position with 64-bit seqs and stores no token", () => {
    const web = fakeWebStorage();
    const storage = webResumeStorage(web);
    const key = resumeKey("the-invite-token");
    storage.save(key, { epoch: 18_446_744_073_709_551_615n, lastSeq: 42n, roomId: "r1" });
    expect(storage.load(key)).toEqual({ epoch: 18_446_744_073_709_551_615n, lastSeq: 42n, roomId: "r1" });
    expect([...web.items.keys(), ...web.items.values()].join()).not.toContain("the-invite-token");
    storage.remove(key);
    expect(storage.load(key)).toBeUndefined();
  });

  it("reads garbage or a failing storage as empty, and never throws", () => {
    const web = fakeWebStorage();
    web.items.set("k", "{not json");
    expect(webResumeStorage(web).load("k")).toBeUndefined();
    const broken: WebStorageLike = {
      getItem: () => { throw new Error("denied"); },
      setItem: () => { throw new Error("quota"); },
      removeItem: () => { throw new Error("denied"); },
    };
    const storage = webResumeStorage(broken);
    expect(storage.load("k")).toBeUndefined();
    expect(() => storage.save("k", { epoch: 1n, lastSeq: 1n, roomId: "" })).not.toThrow();
    expect(() => storage.remove("k")).not.toThrow();
  });
});
