// Runs the real mendd (path from CMake: MEND_MENDD_PATH) on 127.0.0.1 with an ephemeral port,
// a fresh data directory and the shipped templates copied with a 25 ms reflection beat (like
// tests/common/mendd_process.h and the crash tests), for the SDK's integration tests.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const startBoundMs = 30_000;
const exitBoundMs = 30_000;

/** The mendd binary, or undefined when the tests run outside CTest without one. */
export const menddPath: string | undefined = process.env.MEND_MENDD_PATH || undefined;

const sourceDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** A running mendd; stop() with SIGTERM (SIGKILL after a bound) removes its data directory. */
export interface Mendd {
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** The server's output so far (for failure messages). */
  log(): string;
  /** SIGTERM (SIGKILL after a bound), then a new mendd on the same port and data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function fastTemplates(into: string): string {
  const dir = join(into, "templates");
  cpSync(join(sourceDir, "server/templates"), dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!readFileSync(path, "utf8").includes("timing {")) appendFileSync(path, "\ntiming { reflection_beat_ms: 25 }\n");
  }
  return dir;
}

interface Running {
  port: number;
  output: () => string;
  /** SIGTERM, SIGKILL after the bound; resolves once the process exited. */
  terminate: () => Promise<void>;
}

/** Spawns mendd on 127.0.0.1:`port` (0: ephemeral) and waits until it reports its port. */
async function spawnMendd(args: string[], port: number): Promise<Running> {
  const child: ChildProcess = spawn(menddPath!, ["--listen", `127.0.0.1:${port}`, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const bound = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`mendd did not report its port:\n${output}`)), startBoundMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 128 * 1024) output = output.slice(-64 * 1024);
      const match = /listening on 127\.0\.0\.1:([1-9][0-9]*)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`mendd exited with ${code}:\n${output}`));
    });
  });
  return {
    port: bound,
    output: () => output,
    async terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), exitBoundMs);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Starts mendd; `extra` arguments follow the defaults (e.g. ["--read-message-max", "1024"]). */
export async function startMendd(extra: string[] = []): Promise<Mendd> {
  if (!menddPath) throw new Error("MEND_MENDD_PATH is not set");
  const root = mkdtempSync(join(tmpdir(), "mend-ts-"));
  const args = [
    "--data-dir", join(root, "data"),
    "--templates-dir", fastTemplates(root),
    "--log-format", "text",
    ...extra,
  ];
  let running = await spawnMendd(args, 0);
  const port = running.port;
  return {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/connect`,
    log: () => running.output(),
    async restart() {
      await running.terminate();
      running = await spawnMendd(args, port);
    },
    async stop() {
      await running.terminate();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
