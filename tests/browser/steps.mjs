// Steps a person takes in the app, found the way a person and a screen reader find them
// (roles and labels, never CSS classes).

/** Creates a room on the Start screen; returns each person's invite link by name. */
export async function createRoomThroughStart(page, url, { a, b, counselor = "", topic = "", template = "Speaker and listener" }) {
  await page.goto(url);
  await page.getByRole("radio", { name: new RegExp(template) }).check();
  if (topic) await page.getByLabel("What would you like to talk about?").fill(topic);
  await page.getByLabel("Your name").fill(a);
  await page.getByLabel("Your partner's name").fill(b);
  if (counselor) await page.getByLabel("A counselor to observe").fill(counselor);
  await page.getByRole("button", { name: "Create the invitations" }).click();
  const links = {};
  for (const name of [a, b, counselor].filter(Boolean)) {
    const field = page.getByRole("textbox", { name: new RegExp(`^Link for ${name}`) });
    links[name] = await field.inputValue();
  }
  return links;
}

export async function agreeToTerms(page) {
  const agree = page.getByRole("button", { name: "I agree" });
  await agree.click();
  await agree.waitFor({ state: "detached" });
}

/** Opens with `intention` and, when given, the start-up form's lines ({feeling, situation, need}). */
export async function openConversation(page, intention, startup = {}) {
  await page.getByLabel(/Say why you would like to talk/).fill(intention);
  if (startup.feeling) await page.getByLabel("I feel...").fill(startup.feeling);
  if (startup.situation) await page.getByLabel("about...").fill(startup.situation);
  if (startup.need) await page.getByLabel("and I need...").fill(startup.need);
  await page.getByRole("button", { name: "Open the conversation" }).click();
}

export async function waitForFloor(page, words) {
  await page.getByRole("heading", { name: words }).waitFor();
}

/** Writes `text` in the composer and sends it as the action it offers. */
export async function send(page, label, text) {
  const box = page.getByRole("textbox", { name: label });
  await box.fill(text);
  await page.getByRole("button", { name: `Send: ${label}` }).click();
  await page.getByRole("listitem").filter({ hasText: text }).first().waitFor();
  // The draft is cleared once the server accepted it.
  await page.waitForFunction(() => document.getElementById("composer-text")?.value === "");
}

export const share = (page, text) => send(page, "Share", text);
/** The listener mirrors (choosing it first where the composer offers other actions too). */
export async function mirror(page, text) {
  const choice = page.getByRole("radio", { name: "Mirror what you heard" });
  if (await choice.count()) await choice.check();
  await send(page, "Mirror what you heard", text);
}

/** The listener, owing a mirror, asks for an example instead (chosen among the composer's actions). */
export async function askForExample(page, text) {
  await page.getByRole("radio", { name: "Ask for an example" }).check();
  await send(page, "Ask for an example", text);
}

/**
 * A speaker-listener room created over HTTP, both partners' pages joined and agreed, and Ana
 * holding the floor. `viewport` sets the pages' size (phones: 360x740).
 */
export async function startSpeaking(browser, mendd, { viewport } = {}) {
  const room = await mendd.createRoom({ template: "speaker-listener", topic: "the dishes", partnerAName: "Ana", partnerBName: "Ben" });
  const contexts = await Promise.all([browser.newContext({ viewport }), browser.newContext({ viewport })]);
  const [ana, ben] = await Promise.all(contexts.map((c) => c.newPage()));
  await ana.goto(room.links.PARTNER_A);
  await ben.goto(room.links.PARTNER_B);
  await agreeToTerms(ana);
  await agreeToTerms(ben);
  await openConversation(ana, "I'd like us to understand each other better.");
  await waitForFloor(ana, "You have the floor");
  await waitForFloor(ben, "Ana has the floor");
  return { room, contexts, ana, ben, close: () => Promise.all(contexts.map((c) => c.close())) };
}

/** The texts of the timeline's messages, in order. */
export async function messageTexts(page) {
  return page.getByRole("list", { name: "The conversation so far" }).locator("li[data-seq] p.text").allInnerTexts();
}
