// The web app's rules in a real browser: the listener's composer, reloads and restarts that
// lose nothing, time-outs, bad invites, accessibility (axe) and a phone-sized run.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Mendd, launchBrowser, screenshot, seriousViolations, withScreenshotsOnFailure } from "./harness.mjs";
import { agreeToTerms, createRoomThroughStart, messageTexts, mirror, share, startSpeaking, waitForFloor } from "./steps.mjs";

describe("the web app", () => {
  let mendd;
  let browser;
  before(async () => {
    mendd = await new Mendd().start();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await mendd?.dispose();
  });

  test("the listener's composer is disabled while the speaker holds the floor, and a forced send shows the server's refusal", async () => {
    const { ana, ben, close } = await startSpeaking(browser, mendd);
    await withScreenshotsOnFailure("listener", [ana, ben], async () => {
      const box = ben.getByRole("textbox", { name: "Ana has the floor: listen for now" });
      assert.equal(await box.isDisabled(), true);
      // Forced past the disabled state, the composer sends what it would (share): mendd refuses.
      await box.evaluate((el) => (el.disabled = false));
      await box.fill("But I think you are wrong.");
      const sendButton = ben.getByRole("button", { name: "Send", exact: true });
      await sendButton.evaluate((el) => (el.disabled = false));
      await sendButton.click();
      const alert = ben.getByRole("alert");
      await alert.waitFor();
      assert.match(await alert.innerText(), /floor|turn|speaker/i);
      // What was typed is still there.
      assert.equal(await box.inputValue(), "But I think you are wrong.");
      await screenshot(ben, "listener-refused");
    });
    await close();
  });

  test("a page reload mid-conversation resumes with every message exactly once", async () => {
    const { ana, ben, close } = await startSpeaking(browser, mendd);
    await withScreenshotsOnFailure("reload", [ana, ben], async () => {
      await share(ana, "First chunk.");
      await mirror(ben, "You said first chunk.");
      await ben.reload();
      await waitForFloor(ben, "Ana has the floor");
      await ben.getByText("You said first chunk.", { exact: true }).waitFor();
      assert.deepEqual(await messageTexts(ben), ["I'd like us to understand each other better. — Topic: the dishes", "First chunk.", "You said first chunk."]);
      await ana.getByRole("button", { name: "You got it" }).click();
      await share(ana, "Second chunk.");
      await ben.getByText("Second chunk.", { exact: true }).waitFor();
      assert.equal((await messageTexts(ben)).filter((t) => t === "First chunk.").length, 1);
    });
    await close();
  });

  test("a time-out shows a countdown to both, and only the caller can return", async () => {
    const { ana, ben, close } = await startSpeaking(browser, mendd);
    await withScreenshotsOnFailure("timeout", [ana, ben], async () => {
      await ben.getByLabel("Time-out for").selectOption({ label: "30 minutes" });
      await ben.getByRole("button", { name: "Take a time-out" }).click();
      for (const page of [ana, ben]) {
        const timer = page.getByRole("timer", { name: "Time left" });
        await timer.waitFor();
        assert.match(await timer.innerText(), /^(30:0[0-2]|29:[45]\d)$/);
      }
      await ana.getByRole("heading", { name: "Ben is taking a time-out" }).waitFor();
      assert.equal(await ana.getByRole("button", { name: "I'm back" }).count(), 0);
      assert.equal(await ana.getByRole("textbox", { name: /Share/ }).count(), 0);
      await screenshot(ana, "time-out");
      assert.deepEqual(await seriousViolations(ana), []);
      await ben.getByRole("button", { name: "I'm back" }).click();
      await waitForFloor(ana, "You have the floor");
    });
    await close();
  });

  test("a server restart (SIGTERM, then SIGKILL) mid-conversation loses no acknowledged or typed message", { skip: !!process.env.MEND_URL }, async () => {
    const { ana, ben, close } = await startSpeaking(browser, mendd);
    await withScreenshotsOnFailure("restart", [ana, ben], async () => {
      await share(ana, "Said before the restart.");
      const box = ben.getByRole("textbox", { name: "Mirror what you heard" });
      await box.fill("Typed while the server was away.");
      const port = mendd.port;
      await mendd.stop();
      await ben.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
      // Presence heard before the drop is not shown as if it were current.
      await ben.getByRole("region", { name: "Who is in the room" }).getByText("Ana: can't tell while we reconnect").waitFor();
      await screenshot(ben, "reconnecting");
      await mendd.start(port);
      await ben.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor({ state: "detached", timeout: 20_000 });
      assert.equal(await box.inputValue(), "Typed while the server was away.");
      await ben.getByRole("button", { name: "Send: Mirror what you heard" }).click();
      await ben.getByText("Typed while the server was away.", { exact: true }).waitFor();
      await ana.getByRole("button", { name: "You got it" }).click();
      await mendd.kill();
      await mendd.start(port);
      await share(ana, "Said after the crash.");
      await ben.getByText("Said after the crash.", { exact: true }).waitFor({ timeout: 20_000 });
      const texts = await messageTexts(ben);
      for (const text of ["Said before the restart.", "Typed while the server was away.", "Said after the crash."]) {
        assert.equal(texts.filter((t) => t === text).length, 1, text);
      }
    });
    await close();
  });

  test("a forged or expired invite says so plainly", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await withScreenshotsOnFailure("invite", [page], async () => {
      await page.goto(`${mendd.url}/#invite=not-a-real-invite`);
      await page.getByRole("alert").filter({ hasText: "expired or isn't valid" }).waitFor();
      const room = await mendd.createRoom({ template: "speaker-listener", partnerAName: "Ana", partnerBName: "Ben", inviteTtlS: 1 });
      const expiresAt = Number(room.invites[1].expiresAtMs);
      await page.waitForFunction((at) => Date.now() > at + 50, expiresAt, { polling: 100, timeout: 5000 });
      await page.goto(room.links.PARTNER_B);
      await page.getByRole("alert").filter({ hasText: "expired or isn't valid" }).waitFor();
      await screenshot(page, "expired-invite");
      assert.deepEqual(await seriousViolations(page), []);
    });
    await context.close();
  });

  test("every screen passes an axe scan with no serious or critical violation", async () => {
    const context = await browser.newContext();
    const ana = await context.newPage();
    const benContext = await browser.newContext();
    const ben = await benContext.newPage();
    await withScreenshotsOnFailure("axe", [ana, ben], async () => {
      await ana.goto(mendd.url);
      await ana.getByRole("radio").first().waitFor();
      await screenshot(ana, "start");
      assert.deepEqual(await seriousViolations(ana), [], "start");
      const links = await createRoomThroughStart(ana, mendd.url, { a: "Ana", b: "Ben", counselor: "Dr Lee" });
      await screenshot(ana, "invites");
      assert.deepEqual(await seriousViolations(ana), [], "invites");
      await ana.goto(links.Ana);
      await ana.getByRole("button", { name: "I agree" }).waitFor();
      assert.deepEqual(await seriousViolations(ana), [], "join");
      await agreeToTerms(ana);
      await ben.goto(links.Ben);
      await agreeToTerms(ben);
      await ana.getByLabel(/Say why you would like to talk/).waitFor();
      assert.deepEqual(await seriousViolations(ana), [], "opening");
      await ana.getByLabel(/Say why you would like to talk/).fill("To understand each other.");
      await ana.getByLabel(/Name the one subject/).fill("the dishes");
      await ana.getByRole("button", { name: "Open the conversation" }).click();
      await share(ana, "I felt alone.");
      assert.deepEqual(await seriousViolations(ben), [], "conversation");
      await ben.getByRole("button", { name: "End the conversation..." }).click();
      await ben.getByRole("button", { name: "Yes, end it" }).click();
      await ana.getByRole("heading", { name: "A partner ended the conversation." }).waitFor();
      await ana.getByRole("button", { name: "Show the audit log" }).click();
      await ana.getByRole("button", { name: "Show the transcript" }).click();
      await ana.getByText("I felt alone.", { exact: true }).first().waitFor();
      assert.deepEqual(await seriousViolations(ana), [], "after");
      await screenshot(ana, "after-transcript");
    });
    await context.close();
    await benContext.close();
  });

  test("on a 360x740 phone screen partners hold the floor, mirror and confirm", async () => {
    const { ana, ben, close } = await startSpeaking(browser, mendd, { viewport: { width: 360, height: 740 } });
    await withScreenshotsOnFailure("phone", [ana, ben], async () => {
      await share(ana, "I felt alone doing the dishes.");
      await mirror(ben, "You felt alone doing the dishes.");
      await ana.getByRole("button", { name: "You got it" }).click();
      await screenshot(ben, "phone-conversation");
      // Nothing is wider than the screen.
      const overflow = await ben.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0);
      assert.deepEqual(await seriousViolations(ben), []);
    });
    await close();
  });
});
