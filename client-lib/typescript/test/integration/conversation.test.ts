// The TypeScript SDK against the real mendd on 127.0.0.1 (started per test, ephemeral port):
// a whole conversation, a forced drop and resume, a retried command, a page reload, terminal
// closes and the HTTP helper. Skipped when MEND_MENDD_PATH is not set (plain `npm test`).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpClient } from "../../src/http.js";
import { memoryResumeStorage } from "../../src/storage.js";
import { ClosedReason, Phase, RejectionCode, SignalKind, type Event } from "../../src/gen/mend/v1/conversation_pb.js";
import { RoomErasureStatus, type CreateRoomResponse } from "../../src/gen/mend/v1/api_pb.js";
import { menddPath, startMendd, type Mendd } from "./mendd.js";
import { boundMs, Changes, contiguousFromOne, countKind, Participant, playUntil } from "./participant.js";

const signal = (kind = SignalKind.LISTENING) => ({ body: { case: "signal" as const, value: { kind } } });

describe.skipIf(!menddPath)("the TypeScript SDK against mendd", () => {
  let server: Mendd;
  let http: HttpClient;
  const participants: Participant[] = [];

  // Most tests use the defaults; a test that needs other server options restarts it first.
  async function restartServer(extra: string[]): Promise<void> {
    await server.stop();
    server = await startMendd(extra);
    http = new HttpClient({ baseUrl: server.httpUrl });
  }

  beforeEach(async () => {
    server = await startMendd();
    http = new HttpClient({ baseUrl: server.httpUrl });
  });

  afterEach(async () => {
    for (const participant of participants.splice(0)) participant.client.stop();
    await server.stop();
  });

  function room(template = "speaker-listener", observers: string[] = []): Promise<CreateRoomResponse> {
    return http.createRoom({ template, topic: "How we spend our evenings", partnerAName: "Alex", partnerBName: "Sam", observers });
  }

  function join(changes: Changes, token: string, options = {}): Participant {
    const participant = new Participant(changes, server.wsUrl, token, options);
    participants.push(participant);
    participant.client.start();
    return participant;
  }

  /** Both partners of a speaker-listener room, played to the first SPEAKING phase. */
  async function speakingRoom() {
    const created = await room();
    const changes = new Changes();
    const a = join(changes, created.invites[0]!.token);
    const b = join(changes, created.invites[1]!.token);
    expect(await playUntil(changes, [a, b], () => a.view?.phase === Phase.SPEAKING)).toBe(true);
    return { created, changes, a, b };
  }

  it("two partners hold a whole speaker-listener conversation to CLOSED, each event once and in order", async () => {
    const created = await room();
    expect(created.invites).toHaveLength(2);
    const changes = new Changes();
    const a = join(changes, created.invites[0]!.token);
    const b = join(changes, created.invites[1]!.token);
    const closed = await playUntil(changes, [a, b], () => a.view?.phase === Phase.CLOSED && b.view?.phase === Phase.CLOSED);
    expect(closed, server.log()).toBe(true);
    expect(a.view?.closedReason).toBe(ClosedReason.COMPLETED);
    // The floor may be passed any time in one's own turn, so how often it changed hands depends
    // on when each autopilot saw its view (under load, more than once): at least once.
    expect(countKind(a.events, "rolesSwitched")).toBeGreaterThanOrEqual(1);
    expect(countKind(b.events, "conversationClosed")).toBe(1);
    expect(contiguousFromOne(a.events)).toBe(true);
    expect(contiguousFromOne(b.events)).toBe(true);
    expect(a.client.lastDeliveredSeq).toBe(b.client.lastDeliveredSeq);
    expect(a.client.roomId).toBe(created.roomId);
  });

  it("the listener's out-of-turn command is rejected with the server's code and a human message", async () => {
    const { b } = await speakingRoom();
    const outcome = await b.send({ body: { case: "share", value: { text: "me first" } } });
    expect(outcome.accepted).toBe(false);
    expect(outcome.rejectionCode).toBe(RejectionCode.NOT_YOUR_TURN);
    expect(outcome.rejection?.message).not.toBe("");
  });

  it("a partner whose connection drops mid-conversation resumes with no gap and no duplicate", async () => {
    const { changes, a, b } = await speakingRoom();
    b.client.dropConnection();
    for (let i = 0; i < 3; i++) expect((await a.send(signal())).accepted).toBe(true);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq >= a.client.lastDeliveredSeq)).toBe(true);
    expect(b.welcomes).toBeGreaterThanOrEqual(2);
    expect(contiguousFromOne(b.events)).toBe(true);
    expect(b.events).toHaveLength(a.events.length);
    expect(countKind(b.events, "signaled")).toBe(3);
    // The conversation goes on after the resume.
    expect(await playUntil(changes, [a, b], () => countKind(a.events, "reflected") >= 1)).toBe(true);
  });

  it("a retried command_id is applied once and answered with the original result, also across a drop", async () => {
    const { changes, a, b } = await speakingRoom();
    const first = { commandId: "retried-command-0001", ...signal() };
    const original = await a.send(first);
    const again = await a.send(first);
    expect(original.accepted && again.accepted).toBe(true);
    expect(again.result?.firstSeq).toBe(original.result?.firstSeq);
    expect(again.result?.lastSeq).toBe(original.result?.lastSeq);

    // A command in flight when the connection drops is sent again by the SDK with its id.
    const inFlight = a.client.send(signal());
    a.client.dropConnection();
    expect((await inFlight).accepted).toBe(true);

    const marker = await a.send(signal(SignalKind.FEELING_HEARD));
    expect(marker.accepted).toBe(true);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq >= marker.result!.lastSeq)).toBe(true);
    expect(countKind(b.events, "signaled")).toBe(3);
    expect(contiguousFromOne(b.events)).toBe(true);
  });

  it("a page reload resumes from the stored position without replaying what was shown", async () => {
    const created = await room();
    const changes = new Changes();
    const storage = memoryResumeStorage();
    const a = join(changes, created.invites[0]!.token);
    const first = join(changes, created.invites[1]!.token, { storage });
    expect(await playUntil(changes, [a, first], () => a.view?.phase === Phase.SPEAKING)).toBe(true);
    expect(await changes.waitUntil(() => first.client.lastDeliveredSeq === a.client.lastDeliveredSeq)).toBe(true);
    const shown = first.events.map((event) => event.seq);
    first.client.stop();

    expect((await a.send(signal())).accepted).toBe(true);
    const reloaded = join(changes, created.invites[1]!.token, { storage });
    expect(await changes.waitUntil(() => reloaded.client.lastDeliveredSeq === a.client.lastDeliveredSeq)).toBe(true);
    const seen: Event[] = reloaded.events;
    expect(seen.map((event) => event.body.case)).toEqual(["signaled"]);
    expect(seen[0]!.seq).toBe(BigInt(shown.length + 1));
  });

  it("after an erasure a resume with the old epoch is not recovered: onReset with the full view, then delivery after its last seq", async () => {
    const { created, changes, a, b } = await speakingRoom();
    expect((await a.send({ body: { case: "share", value: { text: "Something I may take back." } } })).accepted).toBe(true);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq === a.client.lastDeliveredSeq)).toBe(true);
    const epochBefore = b.client.epoch;
    // b is away while a erases their contributions, so b's next Hello carries the old epoch.
    b.client.setOnline(false);
    expect(await changes.waitUntil(() => b.client.state === "offline")).toBe(true);
    const erased = await http.eraseContributions(created.roomId, created.invites[0]!.token);
    expect(erased.epoch).not.toBe(epochBefore);
    b.client.setOnline(true);
    expect(await changes.waitUntil(() => b.resets.length === 1)).toBe(true);
    expect(b.client.epoch).toBe(erased.epoch);
    expect(b.client.lastDeliveredSeq).toBe(b.resets[0]!.lastSeq);
    const eventsBefore = b.events.length;
    const next = await a.send(signal());
    expect(next.accepted).toBe(true);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq >= next.result!.lastSeq)).toBe(true);
    expect(b.events.slice(eventsBefore).map((event) => event.seq)).toEqual([next.result!.lastSeq]);
  });

  it("a command sent while the server restarts is sent again after the reconnect and applied once", async () => {
    const { changes, a, b } = await speakingRoom();
    const before = await a.send(signal());
    expect(before.accepted).toBe(true);
    const restarting = server.restart();
    const during = a.client.send(signal(SignalKind.FEELING_HEARD));
    await restarting;
    const outcome = await during;
    expect(outcome.accepted, server.log()).toBe(true);
    expect(outcome.result!.firstSeq).toBe(before.result!.lastSeq + 1n);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq >= outcome.result!.lastSeq)).toBe(true);
    expect(countKind(b.events, "signaled")).toBe(2);
    expect(contiguousFromOne(b.events)).toBe(true);
  });

  it("a forged token ends the connection for good with 4501 and fails the waiting command", async () => {
    await room();
    const changes = new Changes();
    const forged = join(changes, "forged-token-that-the-server-never-issued");
    const outcome = await forged.send(signal());
    expect(outcome.error?.code).toBe("terminal_close");
    expect(outcome.error?.closeCode).toBe(4501);
    expect(await changes.waitUntil(() => forged.closed !== undefined)).toBe(true);
    expect(forged.closed?.closeCode).toBe(4501);
    expect(forged.client.state).toBe("closed");
  });

  it("an erased room closes both partners for good with 4503 after the ContentErased item", async () => {
    const { created, changes, a, b } = await speakingRoom();
    const firstAsk = await http.eraseRoom(created.roomId, created.invites[0]!.token);
    expect(firstAsk.status).toBe(RoomErasureStatus.REQUESTED);
    const secondAsk = await http.eraseRoom(created.roomId, created.invites[1]!.token);
    expect(secondAsk.status).toBe(RoomErasureStatus.ERASED);
    expect(await changes.waitUntil(() => a.closed !== undefined && b.closed !== undefined, boundMs)).toBe(true);
    expect([a.closed?.closeCode, b.closed?.closeCode]).toEqual([4503, 4503]);
    expect(a.endings).toEqual(["erased", "closed"]);
    expect(b.endings).toEqual(["erased", "closed"]);
  });

  it("a command over the server's frame limit (1009) fails with frame_too_large, is not resent, and the next command goes through", async () => {
    await restartServer(["--read-message-max", "1024"]);
    const { changes, a, b } = await speakingRoom();
    const welcomesBefore = a.welcomes;
    const large = await a.send({ body: { case: "share", value: { text: "x".repeat(2000) } } });
    expect(large.error?.code).toBe("frame_too_large");
    expect(large.error?.closeCode).toBe(1009);
    expect(await changes.waitUntil(() => a.online && a.welcomes > welcomesBefore)).toBe(true);
    const next = await a.send(signal());
    expect(next.accepted).toBe(true);
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq >= next.result!.lastSeq)).toBe(true);
    expect(countKind(b.events, "shared")).toBe(0);
  });

  it("heartbeats are answered: a client silent but for its HeartbeatAcks outlives the server's client-silence bound", async () => {
    // Heartbeats every 100 ms; 1.5 s of client silence would close with 4002.
    await restartServer(["--heartbeat-ms", "100", "--client-silence-ms", "1500"]);
    const created = await room();
    const changes = new Changes();
    const quiet = join(changes, created.invites[0]!.token, { keepaliveIntervalMs: 0 });
    expect(await changes.waitUntil(() => quiet.online)).toBe(true);
    // A bounded observation window longer than the silence bound.
    await new Promise((wake) => setTimeout(wake, 2500));
    expect(quiet.welcomes).toBe(1);
    expect(quiet.online).toBe(true);
  });

  it("a speaker's typing reaches the listener, and never as an event", async () => {
    const { changes, a, b } = await speakingRoom();
    expect(await changes.waitUntil(() => b.client.lastDeliveredSeq === a.client.lastDeliveredSeq)).toBe(true);
    const eventsBefore = b.events.length;
    a.client.sendTyping(true);
    expect(await changes.waitUntil(() => b.typing.length > 0)).toBe(true);
    expect(b.typing[0]).toBe(true);
    expect(b.events).toHaveLength(eventsBefore);
  });

  it("the HTTP helper lists templates, reads a view, exports a transcript and reports errors with their codes", async () => {
    const templates = await http.listTemplates();
    expect(templates.templates.map((t) => t.name)).toContain("speaker-listener");
    const created = await room();
    const token = created.invites[0]!.token;
    const view = await http.getRoom(created.roomId, token);
    expect(view.view?.partnerAName).toBe("Alex");
    const transcript = await http.getTranscript(created.roomId, token);
    expect(transcript.events.length).toBeGreaterThan(0);
    const audit = await http.getAudit(created.roomId, token);
    expect(audit.roomId).toBe(created.roomId);
    await expect(room("no-such-template")).rejects.toMatchObject({ code: "http_status", httpStatus: 404, serverCode: "UNKNOWN_TEMPLATE" });
    await expect(http.getRoom(created.roomId, "forged")).rejects.toMatchObject({ code: "http_status", httpStatus: 401 });
  });
});
