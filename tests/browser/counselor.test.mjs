// The counselor's screens in a real browser against a real mendd: the caseload dashboard with
// live status, observing from it, the insights charts and their text equivalents, the printable
// summary; each screen screenshotted (desktop and 360 px wide) and scanned by axe.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Mendd, axeViolations, kScreenshots, launchBrowser, screenshot, withScreenshotsOnFailure } from "./harness.mjs";
import { agreeToTerms, mirror, openConversation, share, waitForFloor } from "./steps.mjs";

const kPhone = { width: 360, height: 740 };
/** The counselor's API key: the file's mendd runs with it as its only key. */
const kApiKey = "counselor-key-0123456789";

/** Screenshots `page` as `name` at its size and at a phone's width, with nothing wider than the phone. */
async function screenshotBothSizes(page, name) {
  const size = page.viewportSize();
  await screenshot(page, name);
  await page.setViewportSize(kPhone);
  await screenshot(page, `${name}-phone`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.setViewportSize(size);
  assert.equal(overflow, 0, `${name}: nothing is wider than a phone`);
}

/** The dashboard, opened with the counselor's key. */
async function openDashboard(page, url) {
  await page.goto(`${url}/#counselor`);
  await page.getByLabel("Your API key").fill(kApiKey);
  await page.getByRole("button", { name: "Open my caseload" }).click();
  await page.getByRole("list", { name: "Your conversations" }).waitFor();
}

/** A conversation's card on the dashboard, found by its series (unique per test). */
function card(page, series) {
  return page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: new RegExp(`series ${series}$`) }) });
}

describe("the counselor's screens", () => {
  let mendd;
  let browser;
  // One conversation carries the tests in order: observed live, then closed (its insights and
  // summary), so the file starts one mendd, one browser and three pages.
  let room;
  let contexts = [];
  let lee;
  let ana;
  let ben;
  let keyDir;
  before(async () => {
    keyDir = mkdtempSync(join(tmpdir(), "mend-keys-"));
    const keyFile = join(keyDir, "api-keys");
    writeFileSync(keyFile, `${kApiKey}\n`, { mode: 0o600 });
    mendd = await new Mendd(["--api-key-file", keyFile]).start();
    browser = await launchBrowser();
  });
  after(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await mendd?.dispose();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  test("the dashboard shows a live conversation's status change, and a counselor opens it to observe", async () => {
    room = await mendd.createRoom({
      template: "speaker-listener", topic: "the dishes", partnerAName: "Ana", partnerBName: "Ben", observers: ["Dr Lee"], seriesId: "couple-live",
    }, kApiKey);
    contexts = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
    [lee, ana, ben] = await Promise.all(contexts.map((c) => c.newPage()));
    await withScreenshotsOnFailure("dashboard", [lee, ana, ben], async () => {
      // A key the server refuses is forgotten, and the form asks for it again.
      await lee.goto(`${mendd.url}/#counselor`);
      await lee.getByLabel("Your API key").fill("not-the-key");
      await lee.getByRole("button", { name: "Open my caseload" }).click();
      await lee.getByRole("alert").filter({ hasText: "didn't accept that key" }).waitFor();
      assert.equal(await lee.evaluate(() => Object.keys(sessionStorage).length), 0);
      assert.deepEqual(await axeViolations(lee), [], "key form");
      await openDashboard(lee, mendd.url);
      const mine = card(lee, "couple-live");
      await mine.getByText("Agreeing on privacy", { exact: true }).waitFor();
      assert.match(await mine.innerText(), /Waiting for Partner A and Partner B to agree/);
      assert.match(await mine.innerText(), /Dr Lee: waiting for both partners' approval/);
      assert.match(await mine.innerText(), /Nobody is connected/);
      // The key never reaches the address bar.
      assert.doesNotMatch(lee.url(), new RegExp(kApiKey));

      await ana.goto(room.links.PARTNER_A);
      await ben.goto(room.links.PARTNER_B);
      await agreeToTerms(ana);
      await agreeToTerms(ben);
      await openConversation(ana, "I'd like us to understand each other better.");
      await waitForFloor(ben, "Ana has the floor");
      // The next refresh (a few seconds apart) shows the new status in the same card.
      await mine.getByText("Speaking", { exact: true }).waitFor({ timeout: 10_000 });
      // Screen readers hear it too (a polite live region).
      await lee.getByText("Speaker and listener (series couple-live): Speaking.", { exact: true }).waitFor({ state: "attached" });
      assert.match(await mine.innerText(), /Partner A, Partner B/);
      assert.doesNotMatch(await mine.innerText(), /waiting for both partners' approval|to agree to the terms/);
      // (The caseload's axe scan runs with the series' trends open, in the next test.)
      await screenshotBothSizes(lee, "dashboard");

      await mine.getByRole("button", { name: "Observe..." }).click();
      const link = mine.getByLabel(/Your counselor link for this conversation/);
      assert.equal(await link.evaluate((el) => el === document.activeElement), true, "the link field takes focus");
      // A partner's link opens nothing: the counselor observes only as themselves.
      await link.fill(room.links.PARTNER_A);
      await mine.getByRole("button", { name: "Open to observe" }).click();
      await mine.getByRole("alert").filter({ hasText: "This link is for someone else or another conversation" }).waitFor();
      await link.fill(room.links["Dr Lee"]);
      await mine.getByRole("button", { name: "Open to observe" }).click();
      await lee.getByRole("heading", { name: "Observing: the dishes" }).waitFor();
      await lee.getByRole("button", { name: "Join the room" }).click();
      await lee.getByRole("list", { name: "The conversation so far" }).getByText("I'd like us to understand each other better.", { exact: false }).waitFor();
      // Back on the dashboard, the conversation opens in one step.
      await lee.getByRole("link", { name: "Back to your caseload" }).click();
      await card(lee, "couple-live").getByRole("link", { name: "Open to observe" }).click();
      await lee.getByRole("heading", { name: "Observing: the dishes" }).waitFor();
    });
  });

  test("the insights charts follow the conversation live for the counselor and stay after it closed, each with a text equivalent", async () => {
    await withScreenshotsOnFailure("insights", [lee, ana, ben], async () => {
      await share(ana, "I felt alone doing the dishes every night.");
      await mirror(ben, "You felt alone doing the dishes every night.");
      await ana.getByRole("button", { name: "You got it" }).click();
      // Live: the counselor's mirror-rounds chart counts the confirmed share.
      const rounds = lee.getByRole("img", { name: /1 share; 1 heard back and confirmed, after 1\.0 mirror rounds on average/ });
      await rounds.waitFor();
      await lee.getByRole("img", { name: /Ana held the floor \d+% of the time/ }).waitFor();
      await lee.getByRole("img", { name: /from the start so far: Ana's turns took/ }).waitFor();
      await screenshotBothSizes(lee, "insights-live");
      assert.deepEqual(await axeViolations(lee), [], "counselor with insights");

      // Ben pauses, comes back, then ends the conversation: the timeline marks the pause.
      await ben.getByRole("button", { name: "I need a minute" }).click();
      await ben.getByRole("button", { name: "I'm back" }).click();
      await waitForFloor(ana, "You have the floor");
      await ben.getByRole("button", { name: "End the conversation..." }).click();
      await ben.getByRole("button", { name: "Yes, end it" }).click();

      for (const page of [ana, lee]) {
        await page.getByRole("heading", { name: "A partner ended the conversation." }).waitFor();
        await page.getByRole("img", { name: /1 pause, time-out or break, marked with a triangle/ }).waitFor();
      }
      // The text equivalents: each chart's figures as a table.
      await ana.getByText("Talk balance as a table").click();
      const balance = ana.getByRole("table").filter({ has: ana.getByRole("columnheader", { name: "Ben" }) }).first();
      assert.match(await balance.innerText(), /Mirrors given \(confirmed\)\s+0 \(0\)\s+1 \(1\)/);
      assert.match(await balance.innerText(), /Tried to speak out of turn\s+0\s+0/);
      await ana.getByText("Mirror rounds as a table").click();
      assert.match(await ana.getByRole("table").nth(1).innerText(), /1\s+Ana\s+8\s+1\s+0/);
      await ana.getByText("The timeline as a table").click();
      await ana.getByRole("listitem").filter({ hasText: /^Ben called a short pause at \d+:\d\d for \d+ s: came back early\.$/ }).waitFor();
      // (No axe scan here: the same charts were scanned on the counselor's page above, and the
      // After screen is scanned by screens.test.mjs; each scan costs ~4 s under load.)
      await screenshotBothSizes(ana, "insights-after");

      // The series' trend on the dashboard (one conversation so far in "couple-live", one more created).
      await mendd.createRoom({ template: "speaker-listener", partnerAName: "Ana", partnerBName: "Ben", seriesId: "couple-live" }, kApiKey);
      await lee.goto(`${mendd.url}/#counselor`);
      const mine = card(lee, "couple-live").first();
      await mine.getByRole("button", { name: "Trends across this series" }).click();
      // The new conversation has no figures yet: a gap in the line, said so in the table.
      await mine.getByRole("img", { name: "100% in the one conversation with figures so far." }).waitFor();
      await mine.getByText("Partner A's share of the floor as a table").click();
      assert.match(await mine.getByRole("table").first().innerText(), /^2 \(.*\)\s+no floor time yet$/m);
      await screenshotBothSizes(lee, "series-trends");
      assert.deepEqual(await axeViolations(lee), [], "caseload with a series' trends");
    });
  });

  test("the summary page shows each turn's confirmed words, and its print media leaves the controls out", async () => {
    await withScreenshotsOnFailure("summary", [ana, lee], async () => {
      // The counselor gets no summary: neither partner chose to share it.
      await lee.goto(room.links["Dr Lee"]);
      await lee.getByRole("button", { name: "Open the summary" }).click();
      await lee.getByRole("alert").filter({ hasText: "The partners have not agreed to share the summary" }).waitFor();

      await ana.getByRole("button", { name: "Open the summary" }).click();
      const title = ana.getByRole("heading", { name: "What you heard each other say" });
      await title.waitFor();
      // Focus moves to the new page's title.
      assert.equal(await title.evaluate((el) => el === document.activeElement), true);
      const turn = ana.getByRole("region", { name: /Ana spoke, Ben listened/ });
      assert.match(await turn.innerText(), /Ana said\s+I felt alone doing the dishes every night\./);
      assert.match(await turn.innerText(), /Ben heard, and Ana confirmed\s+You felt alone doing the dishes every night\./);
      assert.equal(await ana.getByRole("button", { name: "Print or save as PDF" }).isVisible(), true);
      assert.deepEqual(await axeViolations(ana), [], "summary");
      await screenshotBothSizes(ana, "summary");
      await ana.emulateMedia({ media: "print" });
      assert.equal(await ana.getByRole("button", { name: "Print or save as PDF" }).isVisible(), false);
      assert.equal(await ana.getByRole("button", { name: "Back" }).isVisible(), false);
      assert.equal(await ana.getByRole("heading", { name: "What you heard each other say" }).isVisible(), true);
      await screenshot(ana, "summary-print");
      // What "save as PDF" gives, kept in the build tree beside the screenshots.
      await ana.pdf({ path: join(kScreenshots, "summary.pdf"), format: "A4" });
      await ana.emulateMedia({ media: "screen" });
    });
  });
});
