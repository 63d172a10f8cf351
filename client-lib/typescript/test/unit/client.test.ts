// The Client against a scripted WebSocket and a manual clock: sequencing across reconnects,
// pending commands, close codes, heartbeats, typing, storage and lifecycle hooks.
import { describe, expect, it } from "vitest";
import { Client, roomOfToken, type ClientHandlers, type ClientOptions, type ConnectionState } from "../../src/client.js";
import type { Event, RoomView } from "../../src/gen/mend/v1/conversation_pb.js";
import { RejectionCode } from "../../src/gen/mend/v1/conversation_pb.js";
import type { CommandOutcome } from "../../src/errors.js";
import { memoryResumeStorage, resumeKey } from "../../src/storage.js";
import type { LifecycleChange } from "../../src/platform.js";
import {
  constantRandom,
  countingRandom,
  fakeNetwork,
  flush,
  ManualTimers,
  resultItem,
  sharedItem,
  welcomeItem,
} from "../support/fakes.js";

const share = (text: string) => ({ body: { case: "share" as const, value: { text } } });

function setup(options: Partial<ClientOptions> = {}, handlers: ClientHandlers = {}) {
  const net = fakeNetwork();
  const timers = new ManualTimers();
  const delivered: bigint[] = [];
  const states: ConnectionState[] = [];
  const client = new Client(
    {
      url: "ws://127.0.0.1:8480",
      token: "secret-token",
      WebSocket: net.WebSocket,
      timers,
      random: countingRandom(),
      backoff: { jitter: 0 },
      storage: null,
      lifecycle: null,
      ...options,
    },
    {
      onEvent: (event: Event) => delivered.push(event.seq),
      onState: (state) => states.push(state),
      ...handlers,
    },
  );
  return { net, timers, client, delivered, states };
}

/** Starts the client and completes the handshake with a Welcome. */
function connected(options: Partial<ClientOptions> = {}, handlers: ClientHandlers = {}) {
  const env = setup(options, handlers);
  env.client.start();
  env.net.last().open();
  env.net.last().receive({ items: [welcomeItem()] });
  return env;
}

describe("Client connection", () => {
  it("connects to /v1/connect/{room} with the room read from an invite token", () => {
    const room = "0123456789abcdef0123456789abcdef";
    const payload = String.fromCharCode(1, 1, 0, 0, 0, 0, 0, 0, 0, 1, room.length) + room + "\0";
    const token = btoa(payload).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") + ".sig";
    expect(roomOfToken(token)).toBe(room);
    expect(roomOfToken("secret-token")).toBeUndefined();
    const { net, client } = setup({ url: "http://127.0.0.1:8480/v1/connect", token });
    client.start();
    expect(net.last().url).toBe(`ws://127.0.0.1:8480/v1/connect/${room}`);
  });

  it("connects to /v1/connect with the mend.v1 subprotocol and sends Hello first", () => {
    const { net, client } = setup({ url: "http://127.0.0.1:8480" });
    client.start();
    const socket = net.last();
    expect(socket.url).toBe("ws://127.0.0.1:8480/v1/connect");
    expect(socket.protocols).toEqual(["mend.v1"]);
    expect(socket.binaryType).toBe("arraybuffer");
    socket.open();
    const hello = socket.sent[0]!.body;
    expect(hello.case).toBe("hello");
    if (hello.case === "hello") {
      expect(hello.value.token).toBe("secret-token");
      expect(hello.value.resumeAfterSeq).toBe(0n);
    }
  });

  it("rejects a malformed URL, an empty token and a second start", () => {
    expect(() => setup({ url: "ftp://x" }).client.start()).toThrowError(/malformed/);
    expect(() => setup({ token: "" }).client.start()).toThrowError(/empty token/);
    const { client } = setup();
    client.start();
    expect(() => client.start()).toThrowError(/already/);
  });

  it("is online after Welcome and publishes participant, room and view", () => {
    const { client, states } = connected();
    expect(client.state).toBe("online");
    expect(states).toEqual(["connecting", "online"]);
    expect(client.roomId).toBe("room-1");
    expect(client.epoch).toBe(1n);
    expect(client.view).toBeDefined();
  });
});

describe("Client sequencing", () => {
  it("delivers events once, in seq order, across a drop and resume from the last delivered seq", () => {
    const { net, timers, client, delivered } = connected();
    net.last().receive({ items: [sharedItem(1n), sharedItem(2n)] });
    net.last().serverClose(1006);
    expect(client.state).toBe("waiting");
    timers.advance(200);
    const second = net.last();
    second.open();
    const hello = second.sent[0]!.body;
    expect(hello.case === "hello" && hello.value.resumeAfterSeq).toBe(2n);
    expect(hello.case === "hello" && hello.value.roomEpoch).toBe(1n);
    second.receive({ items: [welcomeItem(), sharedItem(2n), sharedItem(3n)] });
    second.receive({ items: [sharedItem(3n), sharedItem(5n)] });
    expect(delivered).toEqual([1n, 2n, 3n, 5n]);
    expect(client.lastDeliveredSeq).toBe(5n);
  });

  it("an unrecovered Welcome calls onReset with the full view and continues after its last seq", () => {
    const resets: RoomView[] = [];
    const { net, timers, delivered } = connected({}, { onReset: (view) => resets.push(view) });
    net.last().receive({ items: [sharedItem(1n)] });
    net.last().serverClose(4001);
    timers.advance(200);
    net.last().open();
    net.last().receive({ items: [welcomeItem({ epoch: 2n, recovered: false, lastSeq: 9n }), sharedItem(9n), sharedItem(10n)] });
    expect(resets).toHaveLength(1);
    expect(delivered).toEqual([1n, 10n]);
  });

  it("calls item handlers, then onView, then resolves the commands the frame answered", async () => {
    const order: string[] = [];
    const { net, client } = connected(
      {},
      {
        onEvent: () => order.push("event"),
        byKind: { shared: (event) => order.push(`shared:${event.body.value.text}`) },
        onView: () => order.push("view"),
      },
    );
    order.length = 0;
    const sent = client.send(share("hello")).then(() => order.push("resolved"));
    const id = net.last().commands()[0]!.commandId;
    net.last().receive({ items: [resultItem(id), sharedItem(1n, "hello")], view: { lastSeq: 1n } });
    await sent;
    expect(order).toEqual(["event", "shared:hello", "view", "resolved"]);
  });

  it("a throwing handler does not stop delivery", async () => {
    const { net, delivered } = connected({}, { byKind: { shared: () => { throw new Error("app bug"); } } });
    const errors: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (task) => original(() => { try { task(); } catch (error) { errors.push(error); } });
    try {
      net.last().receive({ items: [sharedItem(1n), sharedItem(2n)] });
      await flush();
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(delivered).toEqual([1n, 2n]);
    expect(errors).toHaveLength(2);
  });
});

describe("Client commands", () => {
  it("gives a command a random 128-bit id and resolves with the server's answer", async () => {
    const { net, client } = connected();
    const pending = client.send(share("I felt alone."));
    const sent = net.last().commands();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.commandId).toMatch(/^[0-9a-f]{32}$/);
    net.last().receive({ items: [resultItem(sent[0]!.commandId, false)] });
    const outcome = await pending;
    expect(outcome.accepted).toBe(false);
    expect(outcome.rejectionCode).toBe(RejectionCode.NOT_YOUR_TURN);
    expect(outcome.rejection?.message).toBe("Not yet.");
  });

  it("resends an unanswered command with the same id after a reconnect, and resolves it once", async () => {
    const { net, timers, client } = connected();
    const outcomes: CommandOutcome[] = [];
    void client.send(share("once")).then((outcome) => outcomes.push(outcome));
    const id = net.last().commands()[0]!.commandId;
    net.last().serverClose(4008);
    timers.advance(200);
    net.last().open();
    net.last().receive({ items: [welcomeItem()] });
    expect(net.last().commands().map((command) => command.commandId)).toEqual([id]);
    net.last().receive({ items: [resultItem(id)] });
    net.last().receive({ items: [resultItem(id)] });
    await flush();
    expect(outcomes.map((outcome) => outcome.accepted)).toEqual([true]);
    expect(client.pendingCommands).toBe(0);
  });

  it("queues a command sent while connecting and sends it after Welcome", () => {
    const { net, client } = setup();
    client.start();
    void client.send(share("early"));
    net.last().open();
    expect(net.last().commands()).toHaveLength(0);
    net.last().receive({ items: [welcomeItem()] });
    expect(net.last().commands()).toHaveLength(1);
  });

  it("keeps a given command id", () => {
    const { net, client } = connected();
    void client.send({ commandId: "mine-1", body: { case: "confirm", value: {} } });
    expect(net.last().commands()[0]!.commandId).toBe("mine-1");
  });

  it("fails a command without a body, or over the frame limit, at once", async () => {
    const { client } = connected({ maxClientFrameBytes: 100 });
    expect((await client.send({})).error?.code).toBe("invalid_argument");
    expect((await client.send(share("x".repeat(200)))).error?.code).toBe("frame_too_large");
  });

  it("fails commands over maxPendingCommands with too_many_pending", async () => {
    const { client } = connected({ maxPendingCommands: 1 });
    void client.send(share("a"));
    expect((await client.send(share("b"))).error?.code).toBe("too_many_pending");
  });
});

describe("Client close codes", () => {
  it("a terminal close (4500-4999) fails pending commands, calls onClosed and never reconnects", async () => {
    const closes: number[] = [];
    const storage = memoryResumeStorage();
    const { net, timers, client } = connected({ storage }, { onClosed: (error) => closes.push(error.closeCode) });
    net.last().receive({ items: [sharedItem(1n)] });
    expect(storage.load(resumeKey("secret-token"))).toBeDefined();
    const pending = client.send(share("too late"));
    net.last().serverClose(4501, "unauthenticated");
    const outcome = await pending;
    expect(outcome.error?.code).toBe("terminal_close");
    expect(outcome.error?.closeCode).toBe(4501);
    expect(closes).toEqual([4501]);
    expect(client.state).toBe("closed");
    expect(storage.load(resumeKey("secret-token"))).toBeUndefined();
    timers.advance(60_000);
    expect(net.sockets).toHaveLength(1);
    expect((await client.send(share("after"))).error?.code).toBe("terminal_close");
  });

  it.each([4001, 4002, 4008, 4009, 4400, 4499, 1000, 1001, 1006, 1011])(
    "close %i reconnects after the backoff delay",
    (code) => {
      const { net, timers, client } = connected();
      net.last().serverClose(code);
      expect(client.state).toBe("waiting");
      timers.advance(199);
      expect(net.sockets).toHaveLength(1);
      timers.advance(1);
      expect(net.sockets).toHaveLength(2);
    },
  );

  it.each([4500, 4503, 4504, 4529, 4999])("close %i is terminal", (code) => {
    const { net, timers, client } = connected();
    net.last().serverClose(code);
    expect(client.state).toBe("closed");
    timers.advance(60_000);
    expect(net.sockets).toHaveLength(1);
  });

  it("1009 fails the command that caused it instead of resending it, and resends the others", async () => {
    const { net, timers, client } = connected();
    const small = client.send(share("small"));
    const large = client.send(share("x".repeat(5000)));
    const [smallId, largeId] = net.last().commands().map((command) => command.commandId);
    net.last().serverClose(1009);
    expect((await large).error?.code).toBe("frame_too_large");
    timers.advance(200);
    net.last().open();
    net.last().receive({ items: [welcomeItem()] });
    expect(net.last().commands().map((command) => command.commandId)).toEqual([smallId]);
    net.last().receive({ items: [resultItem(smallId!)] });
    expect((await small).accepted).toBe(true);
    expect(largeId).not.toBe(smallId);
  });

  it("backs off exponentially while reconnects fail, and gives up after maxAttempts keeping the stored position", () => {
    const closed: string[] = [];
    const storage = memoryResumeStorage();
    storage.save(resumeKey("secret-token"), { epoch: 0n, lastSeq: 0n, roomId: "" });
    const { net, timers, client } = setup(
      { backoff: { jitter: 0, maxAttempts: 3 }, storage },
      { onClosed: (error) => closed.push(error.code) },
    );
    client.start();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      net.last().serverClose(1006);
      delays.push(timers.pending()[0]!);
      timers.advance(delays[delays.length - 1]!);
    }
    net.last().serverClose(1006);
    expect(delays).toEqual([200, 400, 800]);
    expect(closed).toEqual(["gave_up"]);
    expect(client.state).toBe("closed");
    expect(storage.load(resumeKey("secret-token"))).toEqual({ epoch: 0n, lastSeq: 0n, roomId: "" });
  });

  it("jitter spreads the reconnect delay below the exponential bound", () => {
    const { net, timers, client } = setup({ random: constantRandom(0x80), backoff: { jitter: 0.5 } });
    client.start();
    net.last().serverClose(1006);
    expect(timers.pending()[0]).toBe(150);
  });

  it("a Welcome resets the backoff", () => {
    const { net, timers } = connected();
    net.last().serverClose(1006);
    timers.advance(200);
    net.last().serverClose(1006);
    expect(timers.pending()[0]).toBe(400);
    timers.advance(400);
    net.last().open();
    net.last().receive({ items: [welcomeItem()] });
    net.last().serverClose(1006);
    expect(timers.pending()).toContain(200);
  });

  it("a connect that does not reach Welcome in time is retried", () => {
    const { net, timers, client } = setup({ connectTimeoutMs: 1000 });
    client.start();
    net.last().open();
    timers.advance(1000);
    expect(client.state).toBe("waiting");
    timers.advance(200);
    expect(net.sockets).toHaveLength(2);
  });

  it("stop closes with 1000, fails pending commands with stopped and runs no handler after", async () => {
    const states: ConnectionState[] = [];
    const { net, client } = connected({}, { onState: (state) => states.push(state) });
    const pending = client.send(share("x"));
    client.stop();
    expect(net.last().closedByClient).toBe(1000);
    expect((await pending).error?.code).toBe("stopped");
    expect(client.state).toBe("closed");
    expect(states).not.toContain("closed");
  });
});

describe("Client heartbeats, typing, presence", () => {
  it("answers a Heartbeat with a cumulative HeartbeatAck", () => {
    const { net } = connected();
    net.last().receive({ items: [sharedItem(1n), sharedItem(4n)] });
    net.last().receive({ items: [{ body: { case: "heartbeat", value: { lastSeq: 4n } } }] });
    const ack = net.last().sent.at(-1)!.body;
    expect(ack.case === "heartbeatAck" && ack.value.lastSeqReceived).toBe(4n);
  });

  it("sends an unsolicited HeartbeatAck after keepaliveIntervalMs of its own silence", () => {
    const { net, timers } = connected({ keepaliveIntervalMs: 20_000 });
    const before = net.last().sent.length;
    timers.advance(20_000);
    expect(net.last().sent.length).toBe(before + 1);
    expect(net.last().sent.at(-1)!.body.case).toBe("heartbeatAck");
  });

  it("takes the connection as lost after idleTimeoutMs without a frame", () => {
    const { net, timers, client } = connected({ idleTimeoutMs: 75_000, keepaliveIntervalMs: 0 });
    timers.advance(74_000);
    net.last().receive({ items: [{ body: { case: "heartbeat", value: {} } }] });
    timers.advance(74_000);
    expect(client.state).toBe("online");
    timers.advance(1_000);
    expect(client.state).toBe("waiting");
  });

  it("sends typing only while online and relays typing and presence notices", () => {
    const typing: boolean[] = [];
    const online: number[] = [];
    const { net, client } = setup(
      {},
      { onTyping: (notice) => typing.push(notice.typing), onPresence: (presence) => online.push(presence.online.length) },
    );
    client.start();
    client.sendTyping(true);
    net.last().open();
    net.last().receive({ items: [welcomeItem()] });
    client.sendTyping(true);
    expect(net.last().sent.filter((frame) => frame.body.case === "typing")).toHaveLength(1);
    net.last().receive({
      items: [
        { body: { case: "typing", value: { who: { role: 2 }, typing: true } } },
        { body: { case: "presence", value: { online: [{ role: 1 }, { role: 2 }] } } },
      ],
    });
    expect(typing).toEqual([true]);
    expect(online).toEqual([2]);
  });
});

describe("Client resume storage and lifecycle", () => {
  it("saves the position after each frame and a new client resumes from it (a page reload)", () => {
    const storage = memoryResumeStorage();
    const first = connected({ storage });
    first.net.last().receive({ items: [sharedItem(1n), sharedItem(2n)] });
    first.client.stop();
    expect(storage.load(resumeKey("secret-token"))).toEqual({ epoch: 1n, lastSeq: 2n, roomId: "room-1" });
    const second = setup({ storage });
    second.client.start();
    second.net.last().open();
    const hello = second.net.last().sent[0]!.body;
    expect(hello.case === "hello" && [hello.value.roomEpoch, hello.value.resumeAfterSeq]).toEqual([1n, 2n]);
  });

  it("keeps positions of different invites apart and never stores the token", () => {
    expect(resumeKey("a")).not.toBe(resumeKey("b"));
    expect(resumeKey("secret-token")).not.toContain("secret");
  });

  it("setOnline(false) disconnects and keeps pending commands; setOnline(true) resends them", () => {
    const { net, client } = connected();
    void client.send(share("kept"));
    const id = net.last().commands()[0]!.commandId;
    client.setOnline(false);
    expect(client.state).toBe("offline");
    expect(net.last().closedByClient).toBe(1000);
    client.setOnline(true);
    expect(net.sockets).toHaveLength(2);
    net.last().open();
    net.last().receive({ items: [welcomeItem()] });
    expect(net.last().commands().map((command) => command.commandId)).toEqual([id]);
  });

  it("'online' and 'visible' reconnect at once while waiting; 'offline' drops the connection", () => {
    let notify: (change: LifecycleChange) => void = () => {};
    const lifecycle = { subscribe: (listener: (change: LifecycleChange) => void) => ((notify = listener), () => {}) };
    const { net, client } = connected({ lifecycle, backoff: { initialMs: 5000, jitter: 0 } });
    notify("offline");
    expect(client.state).toBe("waiting");
    expect(net.sockets).toHaveLength(1);
    notify("online");
    expect(net.sockets).toHaveLength(2);
    net.last().serverClose(1006);
    notify("visible");
    expect(net.sockets).toHaveLength(3);
  });
});
