#!/usr/bin/env node
// Measures the web app's budgets (README "Web app"): JS+CSS gzipped, the first screen's time
// after navigation on loopback, and how long a 1,000-event conversation takes to replay and
// render. Needs a built mendd (build/dev) and app (tools/build-web.sh). Prints one line per
// budget and exits non-zero when one is over.
//   node tools/web-budgets.mjs
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { Mendd, launchBrowser, sourceDir } from "../tests/browser/harness.mjs";

const kBundleBudgetBytes = 150 * 1024;
const kFirstScreenBudgetMs = 1000;
const kReplayBudgetMs = 1000;
const kReplayEvents = 1000;

function bundleBytes() {
  const assets = join(sourceDir, "web/dist/assets");
  return readdirSync(assets)
    .filter((name) => name.endsWith(".js") || name.endsWith(".css"))
    .reduce((sum, name) => sum + gzipSync(readFileSync(join(assets, name)), { level: 9 }).length, 0);
}

async function firstScreenMs(browser, url) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  await page.getByRole("radio").first().waitFor();
  // The app marks the frame its first screen is drawn in (Start, with the templates listed).
  const ms = await page.evaluate(() => performance.getEntriesByName("mend:first-screen")[0]?.startTime ?? Infinity);
  await page.context().close();
  return ms;
}

/** Two partners who consented and send `count` signals over the SDK (Node, ws). */
async function fillRoom(mendd, count) {
  const sdk = await import(pathToFileURL(join(sourceDir, "client-lib/typescript/dist/index.js")).href);
  const { WebSocket } = createRequire(join(sourceDir, "client-lib/typescript/package.json"))("ws");
  const room = await mendd.createRoom({ template: "speaker-listener", topic: "budgets", partnerAName: "Ana", partnerBName: "Ben" });
  const [a, b] = room.invites;
  const connect = (token) => {
    const client = new sdk.Client({ url: mendd.url, token, WebSocket, storage: null, lifecycle: null });
    client.start();
    return client;
  };
  const ana = connect(a.token);
  const ben = connect(b.token);
  const terms = { body: { case: "consent", value: { terms: { retentionDays: 1 } } } };
  for (const client of [ana, ben]) {
    const outcome = await client.send(terms);
    if (!outcome.accepted) throw new Error(`consent: ${outcome.rejection?.message ?? outcome.error?.message}`);
  }
  const kinds = [sdk.SignalKind.LISTENING, sdk.SignalKind.TAKE_YOUR_TIME, sdk.SignalKind.FEELING_HEARD];
  for (let i = 0; i < count; i += 2) {
    const sent = await Promise.all(
      [ana, ben].map((client, j) => client.send({ body: { case: "signal", value: { kind: kinds[(i + j) % kinds.length] } } })),
    );
    for (const outcome of sent) if (!outcome.accepted) throw new Error(`signal: ${outcome.rejection?.message ?? outcome.error?.message}`);
  }
  ana.stop();
  ben.stop();
  return `${mendd.url}/#invite=${encodeURIComponent(b.token)}`;
}

async function replayMs(browser, link, count) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  // Measured in the page: the frame after the timeline holds every event.
  const ms = await page.evaluate(
    (n) =>
      new Promise((done) => {
        const check = () => (document.querySelectorAll("ol.timeline > li").length >= n ? done(performance.now()) : requestAnimationFrame(check));
        check();
      }),
    count,
  );
  const marks = await page.evaluate(() =>
    ["mend:welcome", "mend:replay-done"].map((name) => `${name} ${Math.round(performance.getEntriesByName(name)[0]?.startTime ?? NaN)} ms`),
  );
  console.log(`     (${marks.join(", ")}, rendered ${Math.round(ms)} ms)`);
  await page.context().close();
  return ms;
}

const mendd = await new Mendd(["--commands-per-second", "10000", "--command-burst", "10000"]).start();
const browser = await launchBrowser();
let over = false;
const report = (name, value, budget, unit) => {
  const ok = value <= budget;
  over ||= !ok;
  console.log(`${ok ? "ok  " : "OVER"} ${name}: ${unit === "KB" ? (value / 1024).toFixed(1) : Math.round(value)} ${unit} (budget ${unit === "KB" ? budget / 1024 : budget} ${unit})`);
};
try {
  report("JS+CSS gzipped", bundleBytes(), kBundleBudgetBytes, "KB");
  await firstScreenMs(browser, mendd.url); // a cold browser start is not the page's cost
  report("first screen after navigation", await firstScreenMs(browser, mendd.url), kFirstScreenBudgetMs, "ms");
  const link = await fillRoom(mendd, kReplayEvents);
  report(`${kReplayEvents}-event conversation replayed and rendered`, await replayMs(browser, link, kReplayEvents), kReplayBudgetMs, "ms");
} finally {
  await browser.close();
  await mendd.dispose();
}
process.exit(over ? 1 : 0);
