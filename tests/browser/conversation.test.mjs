// The web app in a real browser against a real mendd: a whole conversation with a counselor
// watching, the listener's disabled composer, reload and restart resumption.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Mendd, launchBrowser, screenshot, withScreenshotsOnFailure } from "./harness.mjs";
import { agreeToTerms, askForExample, createRoomThroughStart, mirror, openConversation, share, waitForFloor } from "./steps.mjs";

describe("a speaker-listener conversation in three browsers", () => {
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

  test("two partners and a counselor hold a whole conversation through the UI to CLOSED", async () => {
    const contexts = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
    const [ana, ben, lee] = await Promise.all(contexts.map((c) => c.newPage()));
    await withScreenshotsOnFailure("conversation", [ana, ben, lee], async () => {
    const links = await createRoomThroughStart(ana, mendd.url, { a: "Ana", b: "Ben", counselor: "Dr Lee", topic: "the dishes" });
    await ana.getByRole("link", { name: "Open my conversation" }).click();
    await ben.goto(links.Ben);
    await lee.goto(links["Dr Lee"]);

    await agreeToTerms(ana);
    await screenshot(ana, "join-consent");
    await agreeToTerms(ben);
    await lee.getByRole("button", { name: "Join the room" }).click();

    await ana.getByLabel("I feel...").waitFor();
    // The opening's prompt is the intention field's label, and stands on the page once.
    assert.equal(await ana.getByText(/Say why you would like to talk/).count(), 1, "the opening prompt is shown once");
    await screenshot(ana, "opening");
    await openConversation(ana, "I'd like us to understand each other better.", {
      feeling: "lonely",
      situation: "the dishes in the evening",
      need: "us to share them",
    });
    await waitForFloor(ana, "You have the floor");
    await waitForFloor(ben, "Ana has the floor");
    // The start-up lines stand under the intention for both partners.
    await ben.getByRole("list", { name: "The conversation so far" }).getByText("and I need us to share them").waitFor();
    await share(ana, "I felt alone doing the dishes every night.");
    await screenshot(lee, "counselor");
    // In place of a mirror the listener may ask for an example; the speaker answers with a share.
    await askForExample(ben, "Can you give me an example?");
    await share(ana, "Last Tuesday I washed up alone until eleven.");
    await mirror(ben, "You felt alone doing the dishes every night, like last Tuesday.");
    await ana.getByRole("button", { name: "You got it" }).click();
    await ana.getByRole("button", { name: "Pass the floor" }).click();

    await waitForFloor(ben, "You have the floor");
    await share(ben, "I didn't notice, and I am sorry.");
    await mirror(ana, "You didn't notice, and you are sorry.");
    await screenshot(ana, "conversation");
    // The counselor sees every message, each once, and cannot write in the conversation.
    const timeline = lee.getByRole("list", { name: "The conversation so far" });
    await timeline.getByText("You didn't notice, and you are sorry.").waitFor();
    assert.equal(await timeline.getByText("I felt alone doing the dishes every night.").count(), 1);
    assert.equal(await lee.getByRole("button", { name: "Send: Share" }).count(), 0);
    await ben.getByRole("button", { name: "You got it" }).click();

    // The floor goes back and forth until both partners choose to move on.
    await ben.getByRole("button", { name: "I'm ready to move on" }).click();
    await ana.getByRole("region", { name: "Ben has the floor" }).getByText("Ben is ready to move on").waitFor();
    await screenshot(ana, "move-on");
    await ana.getByRole("button", { name: "I'm ready to move on" }).click();

    // The gate opens on each partner's "I feel understood by you", not on "I understand".
    for (const page of [ana, ben]) await page.getByRole("button", { name: "I feel understood by you" }).click();
    await ana.getByRole("list", { name: "The conversation so far" }).getByText("Ben feels understood").waitFor();
    await screenshot(ana, "gate");
    // One partner's "not this time" is enough to skip problem solving.
    await ana.getByRole("button", { name: "Not this time" }).click();
    for (const page of [ana, ben]) await page.getByRole("button", { name: "Finish" }).click();

    for (const page of [ana, ben]) await page.getByRole("heading", { name: /finished the conversation together/ }).waitFor();
    await screenshot(ana, "after");
    });
    await Promise.all(contexts.map((c) => c.close()));
  });

  test("when a partner withdraws consent the counselor's view closes and both partners see it", async () => {
    const room = await mendd.createRoom({ template: "speaker-listener", topic: "money", partnerAName: "Ana", partnerBName: "Ben", observers: ["Dr Lee"] });
    const contexts = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
    const [ana, ben, lee] = await Promise.all(contexts.map((c) => c.newPage()));
    await withScreenshotsOnFailure("revoke", [ana, ben, lee], async () => {
      await ana.goto(room.links.PARTNER_A);
      await ben.goto(room.links.PARTNER_B);
      await lee.goto(room.links["Dr Lee"]);
      await lee.getByRole("heading", { name: "Waiting to be let in" }).waitFor();
      await agreeToTerms(ana);
      await agreeToTerms(ben);
      await lee.getByRole("button", { name: "Join the room" }).click();
      await ana.getByText("Dr Lee (counselor): observing").waitFor();
      await ben.getByRole("button", { name: "Stop Dr Lee observing" }).click();
      await lee.getByRole("alert").filter({ hasText: "consent was withdrawn" }).waitFor();
      assert.equal(await lee.getByRole("list", { name: "The conversation so far" }).count(), 0);
      await ana.getByText("Dr Lee (counselor): consent withdrawn").waitFor();
      await screenshot(lee, "counselor-revoked");
    });
    await Promise.all(contexts.map((c) => c.close()));
  });
});
