// The HTTP helper against a scripted fetch: JSON through the Protobuf JSON mapping, tokens in
// the Authorization header only, and every failure as a ClientError with a stable code.
import { describe, expect, it } from "vitest";
import { HttpClient, type FetchLike } from "../../src/http.js";
import { ClientError } from "../../src/errors.js";

interface Seen {
  url: string;
  init: RequestInit;
}

function scripted(status: number, body: string, seen: Seen[] = []): FetchLike {
  return async (url, init) => {
    seen.push({ url, init });
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  };
}

describe("HttpClient", () => {
  it("posts a CreateRoomRequest in the Protobuf JSON mapping and parses the answer", async () => {
    const seen: Seen[] = [];
    const answer = JSON.stringify({ roomId: "r1", invites: [{ participant: { role: "PARTNER_A" }, token: "t", expiresAtMs: "1700000000000" }] });
    const http = new HttpClient({ baseUrl: "http://127.0.0.1:8480/", apiKey: "key", fetch: scripted(200, answer, seen) });
    const created = await http.createRoom({ template: "speaker-listener", partnerAName: "Alex", partnerBName: "Sam", inviteTtlS: 60 });
    expect(created.roomId).toBe("r1");
    expect(created.invites[0]!.expiresAtMs).toBe(1_700_000_000_000n);
    expect(seen[0]!.url).toBe("http://127.0.0.1:8480/v1/rooms");
    expect(seen[0]!.init.method).toBe("POST");
    expect(JSON.parse(seen[0]!.init.body as string)).toEqual({
      template: "speaker-listener",
      partnerAName: "Alex",
      partnerBName: "Sam",
      inviteTtlS: 60,
    });
    expect((seen[0]!.init.headers as Record<string, string>).Authorization).toBe("Bearer key");
  });

  it("sends the invite token only in the Authorization header, never in the URL", async () => {
    const seen: Seen[] = [];
    const http = new HttpClient({ baseUrl: "http://h", fetch: scripted(200, JSON.stringify({ roomId: "a/b" }), seen) });
    await http.getRoom("a/b", "invite-token");
    expect(seen[0]!.url).toBe("http://h/v1/rooms/a%2Fb");
    expect(seen[0]!.url).not.toContain("invite-token");
    expect((seen[0]!.init.headers as Record<string, string>).Authorization).toBe("Bearer invite-token");
  });

  it("the caseload and a series' insights are asked for with the API key, never with the key in the URL", async () => {
    const seen: Seen[] = [];
    const rooms = JSON.stringify({ rooms: [{ roomId: "r1", phase: "SPEAKING", lastActivityMs: "1700000000000", connected: [{ role: "PARTNER_A" }] }] });
    const http = new HttpClient({ baseUrl: "http://h", apiKey: "secret-key", fetch: scripted(200, rooms, seen) });
    const listed = await http.listRooms();
    expect(listed.rooms[0]!.roomId).toBe("r1");
    expect(listed.rooms[0]!.lastActivityMs).toBe(1_700_000_000_000n);
    const series = new HttpClient({ baseUrl: "http://h", apiKey: "secret-key", fetch: scripted(200, JSON.stringify({ seriesId: "s/1", conversations: [{ roomId: "r1" }] }), seen) });
    expect((await series.getSeriesInsights("s/1")).conversations[0]!.roomId).toBe("r1");
    expect(seen.map((s) => [s.url, s.init.method])).toEqual([["http://h/v1/rooms", "GET"], ["http://h/v1/series/s%2F1/insights", "GET"]]);
    for (const request of seen) {
      expect(request.url).not.toContain("secret-key");
      expect((request.init.headers as Record<string, string>).Authorization).toBe("Bearer secret-key");
    }
  });

  it("a non-2xx answer rejects with http_status, the server's code and its human message", async () => {
    const body = JSON.stringify({ code: "PARTNERS_ONLY", message: "Only the two partners can do this." });
    const http = new HttpClient({ baseUrl: "http://h", fetch: scripted(403, body) });
    const error = await http.eraseRoom("r", "t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: "http_status", httpStatus: 403, serverCode: "PARTNERS_ONLY", message: "Only the two partners can do this." });
  });

  it("a non-2xx answer without an ErrorResponse still says its status", async () => {
    const http = new HttpClient({ baseUrl: "http://h", fetch: scripted(502, "<html>bad gateway</html>") });
    await expect(http.listTemplates()).rejects.toMatchObject({ code: "http_status", httpStatus: 502, serverCode: "" });
  });

  it("an unparseable 2xx answer rejects with protocol", async () => {
    const http = new HttpClient({ baseUrl: "http://h", fetch: scripted(200, "not json") });
    await expect(http.listTemplates()).rejects.toMatchObject({ code: "protocol" });
  });

  it("a failed fetch rejects with network, a slow one with timeout", async () => {
    const failing = new HttpClient({ baseUrl: "http://h", fetch: async () => { throw new TypeError("fetch failed"); } });
    await expect(failing.listTemplates()).rejects.toMatchObject({ code: "network" });
    const hanging: FetchLike = (_url, init) =>
      new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    const slow = new HttpClient({ baseUrl: "http://h", timeoutMs: 5, fetch: hanging });
    await expect(slow.listTemplates()).rejects.toMatchObject({ code: "timeout" });
  });

  it("needs a baseUrl outside a page", () => {
    expect(() => new HttpClient()).toThrowError(ClientError);
  });
});
