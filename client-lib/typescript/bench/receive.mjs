// The SDK's CPU per received event: a Client fed pre-encoded ServerFrames through an in-process
// WebSocket stand-in (no network), so what is measured is decoding, sequencing, dispatch to
// handlers and saving the resume position. Two shapes:
//   live:   one event per frame, with the recipient's view (what a conversation sends)
//   replay: 50 events per frame, view once per frame (a resume or a page load)
// Usage: npm run bench  (builds dist/ first). Prints microseconds of process CPU per event.
import { create, toBinary } from "@bufbuild/protobuf";
import { Client, ServerFrameSchema, Action, Phase, Role, memoryResumeStorage } from "../dist/index.js";

const liveEvents = 20_000;
const replayEvents = 50_000;
const replayBatch = 50;

const view = {
  you: { role: Role.PARTNER_B },
  templateName: "speaker-listener",
  topic: "How we spend our evenings",
  phase: Phase.MIRRORING,
  speaker: Role.PARTNER_A,
  listener: Role.PARTNER_B,
  stageIndex: 1,
  stageName: "speaking",
  stageTitle: "Speaking and listening",
  prompt: "Say back what you heard, in your own words, without adding to it.",
  listenerQuestions: ["What did you hear?", "How might that feel?"],
  participants: [
    { actor: { role: Role.PARTNER_A }, name: "Alex" },
    { actor: { role: Role.PARTNER_B }, name: "Sam" },
  ],
  allowedActions: [Action.REFLECT, Action.SIGNAL, Action.REPAIR, Action.PAUSE, Action.TIME_OUT, Action.LEAVE],
  partnerAName: "Alex",
  partnerBName: "Sam",
};

function event(seq) {
  return {
    body: {
      case: "event",
      value: {
        seq: BigInt(seq),
        atMs: 1_760_000_000_000n + BigInt(seq),
        actor: { role: Role.PARTNER_A },
        body: { case: "shared", value: { text: "When the evenings get busy, I miss time with you and I feel alone." } },
      },
    },
  };
}

function encode(items, lastSeq) {
  return toBinary(ServerFrameSchema, create(ServerFrameSchema, { items, view: { ...view, lastSeq: BigInt(lastSeq) } }));
}

function frames(total, perFrame) {
  const out = [];
  for (let seq = 1; seq <= total; seq += perFrame) {
    const items = [];
    for (let s = seq; s < seq + perFrame && s <= total; s++) items.push(event(s));
    out.push(encode(items, Math.min(seq + perFrame - 1, total)));
  }
  return out;
}

class LoopbackSocket {
  static last;
  binaryType = "blob";
  readyState = 1;
  protocol = "mend.v1";
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor() {
    LoopbackSocket.last = this;
  }
  send() {}
  close() {}
}

function run(label, encoded, events) {
  let delivered = 0;
  let checksum = 0;
  const client = new Client(
    { url: "ws://127.0.0.1:1", token: "bench", WebSocket: LoopbackSocket, storage: memoryResumeStorage(), lifecycle: null, keepaliveIntervalMs: 0 },
    {
      onEvent: (e) => {
        delivered += 1;
        if (e.body.case === "shared") checksum += e.body.value.text.length;
      },
      onView: () => {},
    },
  );
  client.start();
  const socket = LoopbackSocket.last;
  socket.onopen({});
  const welcome = toBinary(ServerFrameSchema, create(ServerFrameSchema, {
    items: [{ body: { case: "welcome", value: { participant: { role: Role.PARTNER_B }, view, epoch: 1n, recovered: true, roomId: "r" } } }],
  }));
  socket.onmessage({ data: welcome.slice().buffer });
  const buffers = encoded.map((bytes) => bytes.slice().buffer);
  const bytes = encoded.reduce((sum, frame) => sum + frame.length, 0);
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  for (const data of buffers) socket.onmessage({ data });
  const used = process.cpuUsage(cpu);
  const wallNs = Number(process.hrtime.bigint() - wall);
  client.stop();
  if (delivered !== events || checksum === 0) throw new Error(`${label}: delivered ${delivered} of ${events}`);
  const cpuUs = used.user + used.system;
  console.log(
    `${label.padEnd(7)} ${events} events in ${encoded.length} frames (${(bytes / encoded.length).toFixed(0)} B/frame): ` +
      `${(cpuUs / events).toFixed(2)} us CPU per event, ${(wallNs / 1000 / events).toFixed(2)} us wall per event`,
  );
}

console.log(`node ${process.version}, @mend/client receive path`);
const live = frames(liveEvents, 1);
const replay = frames(replayEvents, replayBatch);
run("warmup", frames(5_000, 1), 5_000);
run("live", live, liveEvents);
run("replay", replay, replayEvents);
