// Browser-test harness: a real mendd on an ephemeral loopback port serving the built app
// (web/dist), and Debian's Chromium driven by playwright-core (no browser download).
//
// Environment (set by CTest, see CMakeLists.txt): MEND_MENDD (the binary), MEND_WEB_DIR (the
// built app), MEND_SCREENSHOTS (where screenshots land, in the build tree), MEND_CHROMIUM
// (default /usr/bin/chromium). Every wait is bounded.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = resolve(here, "../..");
// The app's own node_modules hold playwright-core and axe (one lockfile: web/).
const require = createRequire(join(sourceDir, "web/package.json"));
const { chromium } = require("playwright-core");
const { AxeBuilder } = require("@axe-core/playwright");
export { AxeBuilder };

const kStartBoundMs = 30_000;
const kExitBoundMs = 30_000;
export const kScreenshots = process.env.MEND_SCREENSHOTS ?? join(sourceDir, "build/screenshots");

export const kChromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A mendd child process on 127.0.0.1 with its own data directory. */
export class Mendd {
  /** `extraArgs`: more mendd flags, e.g. higher rate limits for a benchmark. */
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.dataDir = mkdtempSync(join(tmpdir(), "mend-browser-"));
    this.port = 0;
    this.log = "";
  }

  /** Starts mendd (port 0: ephemeral, else the same port again) and waits for "listening on". */
  async start(port = 0) {
    // MEND_URL: use a server that is already running (developing the app with `npm run dev`).
    if (process.env.MEND_URL) {
      this.external = process.env.MEND_URL.replace(/\/+$/, "");
      return this;
    }
    const binary = process.env.MEND_MENDD ?? join(sourceDir, "build/dev/server/app/mendd");
    const webDir = process.env.MEND_WEB_DIR ?? join(sourceDir, "web/dist");
    this.child = spawn(
      binary,
      [
        "--listen", `127.0.0.1:${port}`,
        "--data-dir", this.dataDir,
        "--templates-dir", join(sourceDir, "server/templates"),
        "--web-dir", webDir,
        "--durability", "normal",
        "--log-level", "info",
        ...this.extraArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((done) => this.child.once("exit", (code, signal) => done({ code, signal })));
    this.port = await new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`mendd did not start:\n${this.log.slice(-2000)}`)), kStartBoundMs);
      const read = (chunk) => {
        this.log += chunk.toString();
        const match = /listening on 127\.0\.0\.1:([1-9][0-9]*)/.exec(this.log);
        if (match) {
          clearTimeout(timer);
          done(Number(match[1]));
        }
      };
      this.child.stdout.on("data", read);
      this.child.stderr.on("data", read);
      this.child.once("exit", () => fail(new Error(`mendd exited:\n${this.log.slice(-2000)}`)));
    });
    return this;
  }

  get url() {
    return this.external ?? `http://127.0.0.1:${this.port}`;
  }

  /** SIGTERM, then SIGKILL when it has not exited within the bound. */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), kExitBoundMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once (a crash). */
  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  async dispose() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** POST /v1/rooms (with `apiKey` when the server has keys): the invite links of a new room, by role name. */
  async createRoom(body, apiKey = "") {
    const response = await fetch(`${this.url}/v1/rooms`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`create room: ${response.status} ${await response.text()}`);
    const room = await response.json();
    const links = {};
    for (const invite of room.invites) {
      const who = invite.participant.role === "OBSERVER" ? invite.participant.observer : invite.participant.role;
      links[who] = `${this.url}/#invite=${encodeURIComponent(invite.token)}`;
    }
    return { roomId: room.roomId, links, invites: room.invites };
  }
}

/** Debian's Chromium, headless, with a fresh temporary profile. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.MEND_CHROMIUM ?? "/usr/bin/chromium",
    args: kChromiumArgs,
    headless: true,
  });
}

/** Saves a screenshot of `page` as <name>.png in the build tree. */
export async function screenshot(page, name) {
  mkdirSync(kScreenshots, { recursive: true });
  await page.screenshot({ path: join(kScreenshots, `${name}.png`), fullPage: true });
}

/** Serious and critical axe violations of the page, as readable lines. */
export async function seriousViolations(page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Every axe violation of the page, whatever its impact, as readable lines (new screens: none). */
export async function axeViolations(page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Runs `body`; on failure saves a screenshot of each page (failure-<name>-<i>.png) first. */
export async function withScreenshotsOnFailure(name, pages, body) {
  try {
    await body();
  } catch (error) {
    await Promise.all(pages.map((page, i) => screenshot(page, `failure-${name}-${i}`).catch(() => {})));
    throw error;
  }
}
