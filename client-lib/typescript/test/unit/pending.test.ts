import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CommandSchema } from "../../src/gen/mend/v1/conversation_pb.js";
import { makeCommandId, PendingCommands } from "../../src/pending.js";
import { ClientError, CommandOutcome } from "../../src/errors.js";
import { countingRandom } from "../support/fakes.js";

function command(commandId: string) {
  return create(CommandSchema, { commandId, body: { case: "confirm", value: {} } });
}

const noop = () => {};

describe("makeCommandId", () => {
  it("is 128 random bits as 32 lower-case hex characters", () => {
    expect(makeCommandId(countingRandom())).toBe("000102030405060708090a0b0c0d0e0f");
  });

  it("uses the platform CSPRNG by default (no two ids alike)", async () => {
    const { systemRandom } = await import("../../src/backoff.js");
    const ids = new Set(Array.from({ length: 100 }, () => makeCommandId(systemRandom())));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("PendingCommands", () => {
  it("keeps commands in submission order for the resend after a reconnect", () => {
    const pending = new PendingCommands(10);
    for (const id of ["c", "a", "b"]) pending.add(command(id), new Uint8Array(1), noop);
    expect(pending.inOrder().map((entry) => entry.command.commandId)).toEqual(["c", "a", "b"]);
  });

  it("resolves an id once; a late duplicate result resolves nothing", () => {
    const pending = new PendingCommands(10);
    const outcomes: CommandOutcome[] = [];
    pending.add(command("x"), new Uint8Array(1), (outcome) => outcomes.push(outcome));
    pending.resolve("x")?.(CommandOutcome.failed(new ClientError("stopped", "stopped")));
    expect(pending.resolve("x")).toBeUndefined();
    expect(outcomes).toHaveLength(1);
    expect(pending.size).toBe(0);
  });

  it("refuses an empty, over-long or duplicate id, and more than the limit", () => {
    const pending = new PendingCommands(1);
    expect(pending.admissible("")?.code).toBe("invalid_argument");
    expect(pending.admissible("x".repeat(65))?.code).toBe("invalid_argument");
    expect(pending.add(command("a"), new Uint8Array(1), noop)).toBeUndefined();
    expect(pending.admissible("a")?.code).toBe("invalid_argument");
    expect(pending.add(command("b"), new Uint8Array(1), noop)?.code).toBe("too_many_pending");
    expect(pending.size).toBe(1);
  });

  it("counts sends per id and remembers the connection of the last send", () => {
    const pending = new PendingCommands(10);
    pending.add(command("a"), new Uint8Array(1), noop);
    pending.recordSend("a", 1);
    pending.recordSend("a", 2);
    expect(pending.sends("a")).toBe(2);
    expect(pending.sends("unknown")).toBe(0);
  });

  it("suspects the largest command sent on the closed connection for a 1009", () => {
    const pending = new PendingCommands(10);
    pending.add(command("small"), new Uint8Array(10), noop);
    pending.add(command("big"), new Uint8Array(100), noop);
    pending.add(command("bigger-but-older-connection"), new Uint8Array(1000), noop);
    pending.recordSend("small", 2);
    pending.recordSend("big", 2);
    pending.recordSend("bigger-but-older-connection", 1);
    expect(pending.oversizedSuspect(2)?.command.commandId).toBe("big");
    expect(pending.oversizedSuspect(3)).toBeUndefined();
  });

  it("takeAll hands back every completion, oldest first, and empties the set", () => {
    const pending = new PendingCommands(10);
    const order: string[] = [];
    for (const id of ["1", "2"]) pending.add(command(id), new Uint8Array(1), () => order.push(id));
    for (const done of pending.takeAll()) done(CommandOutcome.failed(new ClientError("stopped", "stopped")));
    expect(order).toEqual(["1", "2"]);
    expect(pending.size).toBe(0);
  });
});
