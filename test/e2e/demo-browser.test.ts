import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Frame, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../emulators/demo/demo.ts";
import { REDIS_URL } from "../helpers/env.ts";

/**
 * The demo page in headless Chromium from Debian (never a downloaded
 * browser), at 1280×720 as a laptop shows it: create a lab, follow its thread,
 * watch podinfo take a rotated colour, destroy the lab with the confirmation
 * button, all with the header and the message box in view; then the same in
 * the Teams view, with the password card; and the lab create's trace on the
 * page beside it. LABOPS_SCREENSHOTS=docs writes the
 * README's pictures to docs/screenshots; LABOPS_SCREENSHOTS=/some/dir keeps
 * them there (with one of the page as it was when a test failed) to look at.
 */
function chromiumPath(): string {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
      // try the next name
    }
  }
  throw new Error("Debian's chromium is not installed: apt-get install -y chromium (bash .ci/run does it)");
}

const toDocs = process.env.LABOPS_SCREENSHOTS === "docs";
const keptIn = process.env.LABOPS_SCREENSHOTS?.startsWith("/") ? process.env.LABOPS_SCREENSHOTS : undefined;
if (keptIn) mkdirSync(keptIn, { recursive: true });
const shots = toDocs
  ? new URL("../../docs/screenshots/", import.meta.url).pathname
  : (keptIn ?? mkdtempSync(join(tmpdir(), "labops-shots-")));
const VIEWPORT = { width: 1280, height: 720 };
const BLUE = "rgb(0, 0, 255)";
const ORANGE = "rgb(255, 165, 0)";

describe("the demo page in a browser, at 1280×720", () => {
  let demo: Demo;
  let browser: Browser;
  let page: Page;
  /** podinfo's page for team-a, in a tab of its own, as the learner would keep it open. */
  let podinfo: Page;
  const failures: string[] = [];

  beforeAll(async () => {
    demo = await startDemo({ timeScale: 60, redisUrl: REDIS_URL });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: VIEWPORT });
    // Nothing the page asks for may fail (the favicon included), and nothing blocks it (no alert()).
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().includes("/api/")) failures.push(`${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => failures.push(String(e)));
    page.on("dialog", (d) => {
      failures.push(`a blocking ${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(demo.pageUrl ?? "");
    mkdirSync(shots, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (!toDocs && !keptIn) rmSync(shots, { recursive: true, force: true });
  }, 60_000);

  afterEach(async (context) => {
    if (keptIn && context.task.result?.state === "fail" && page) {
      await page.screenshot({ path: join(shots, `failed-${context.task.name.slice(0, 40)}.png`) });
    }
  });

  const composer = () => page.getByRole("textbox", { name: "Message" });
  async function type(command: string): Promise<void> {
    await composer().fill(command);
    await composer().press("Enter");
  }

  /** Wholly inside the window: what "stays in view" means. */
  async function expectInView(locator: Locator, what: string): Promise<void> {
    const box = await locator.boundingBox();
    expect(box, what).not.toBeNull();
    if (!box) return;
    expect(box.y, `${what}: top`).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height, `${what}: bottom`).toBeLessThanOrEqual(VIEWPORT.height);
  }
  async function expectFrame(): Promise<void> {
    await expectInView(page.locator("#slack-view .header"), "the channel header");
    await expectInView(composer(), "the message box");
    // Like Slack, the page itself never scrolls; its lists do.
    expect(await page.evaluate<number>("document.scrollingElement.scrollTop")).toBe(0);
    expect(await page.evaluate<number>("document.documentElement.scrollHeight")).toBeLessThanOrEqual(
      VIEWPORT.height,
    );
  }
  /** The newest message of a list is in view: the list follows it. */
  async function expectNewestInView(list: Locator, what: string): Promise<void> {
    await expect
      .poll(async () => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight), {
        message: `${what} stays on its newest message`,
        timeout: 5_000,
      })
      .toBeLessThan(2);
  }
  const background = (p: Page | Frame) =>
    p.evaluate<string>("getComputedStyle(document.body).backgroundColor");

  it("answers plain text with a hint under the message box, not a blocking alert", async () => {
    await type("hello labops");
    const hint = page.locator("#slack-hint");
    await hint.waitFor();
    expect(await hint.textContent()).toMatch(/slash commands.*\/lab create team-a/);
    expect(await composer().inputValue()).toBe("hello labops");
    await composer().fill("");
    await expect.poll(() => hint.isVisible()).toBe(false);
  });

  it("creates a lab: the card completes with the header and the message box in view, and the thread pane shows its replies", {
    timeout: 120_000,
  }, async () => {
    await type("/lab create team-a");
    await page.getByText("Only visible to you").first().waitFor();
    await page.getByText(/Lab team-a is ready/).waitFor({ timeout: 90_000 });
    await expectFrame();
    await expectNewestInView(page.locator("#messages"), "the channel");
    const messages = page.locator("#messages");
    expect(await messages.textContent()).toContain("12/12 steps");
    // Each state in a word beside its glyph, and a real progress bar, not a code span.
    expect(await messages.locator(".step.done .word").first().textContent()).toBe("done");
    expect(await messages.locator(".pill.st-succeeded").first().textContent()).toBe("Done");
    expect(await messages.locator('[role="progressbar"]').first().getAttribute("aria-valuenow")).toBe("12");
    expect(await messages.locator("code", { hasText: "█" }).count()).toBe(0);
    // "Open in Azure portal" leads to the emulator's view, and says so.
    const portal = messages.getByRole("link", { name: "Open in Azure portal (emulated)" }).first();
    const href = (await portal.getAttribute("href")) ?? "";
    expect(href).toMatch(/^\/portal\?id=%2Fsubscriptions%2F/);
    const portalPage = await fetch(new URL(href, demo.pageUrl)).then((r) => r.text());
    expect(portalPage).toContain("lab-team-a-rg");
    expect(portalPage).toContain("lab-team-a-aks");

    await page
      .getByText(/^\d+ replies$/)
      .first()
      .click();
    const thread = page.locator("#thread");
    await thread.getByText(/podinfo runs on 2 pods/).waitFor();
    await expectInView(thread.getByText(/podinfo runs on 2 pods/), "the newest reply in the thread pane");
    await expectNewestInView(page.locator("#thread-messages"), "the thread pane");
    await expectFrame();
    await page.screenshot({ path: join(shots, "lab-create.png") });
    expect(statSync(join(shots, "lab-create.png")).size).toBeGreaterThan(10_000);
  });

  it("draws the lab create's trace beside the page: a waterfall with its critical path", {
    timeout: 60_000,
  }, async () => {
    const link = page.getByRole("link", { name: "Last lab create's trace ↗" });
    expect(await link.getAttribute("href")).toBe("/trace");
    const trace = await browser.newPage({ viewport: VIEWPORT });
    trace.on("pageerror", (e) => failures.push(String(e)));
    await trace.goto(new URL("/trace", demo.pageUrl).toString());
    await trace
      .getByRole("heading", { name: /^lab create team-a: [\d.]+ (s|ms)$/ })
      .waitFor({ timeout: 30_000 });
    // The bot exports in batches: the trace is whole once the last step's span is in.
    await trace.locator(".row", { hasText: "labops.step verify" }).waitFor({ timeout: 30_000 });
    const path = (await trace.locator(".path").textContent()) ?? "";
    expect(path).toMatch(
      /intake .*→\s*job lab\.create .*→\s*plan .*→\s*step rg .*→\s*step aks .*→\s*step verify/,
    );
    expect(await trace.locator(".row.crit", { hasText: "labops.step aks" }).count()).toBe(1);
    expect(await trace.locator(".row", { hasText: /labops\.azure create cluster/ }).count()).toBe(1);
    // The Azure SDK's own spans are one tick away.
    const http = trace.locator(".row", { hasText: /^HTTP PUT/ });
    expect(await http.count()).toBe(0);
    await trace.getByLabel(/the Azure SDK's own spans/).check();
    expect(await http.count()).toBeGreaterThan(5);
    await trace.getByLabel(/the Azure SDK's own spans/).uncheck();
    await trace.screenshot({ path: join(shots, "trace.png") });
    expect(statSync(join(shots, "trace.png")).size).toBeGreaterThan(10_000);
    await trace.close();
  });

  it("serves podinfo for the lab, in its colour, with the pod's name and mounted versions (never values)", {
    timeout: 60_000,
  }, async () => {
    const link = page.locator("#lab-links").getByRole("button", { name: "podinfo · team-a" });
    await link.click();
    const frame = page.frameLocator("#pane-frame");
    await frame
      .locator("#hostname")
      .filter({ hasText: /^podinfo-csi-/ })
      .waitFor({ timeout: 20_000 });
    podinfo = await browser.newPage({ viewport: VIEWPORT });
    await podinfo.goto(new URL("/podinfo/team-a/", demo.pageUrl).toString());
    await podinfo
      .locator("#hostname")
      .filter({ hasText: /^podinfo-csi-[a-z0-9]+-[a-z0-9]+$/ })
      .waitFor();
    await expect.poll(() => background(podinfo)).toBe(BLUE);
    await podinfo.locator("#mounts").waitFor();
    const mounts = (await podinfo.locator("#mount-rows").textContent()) ?? "";
    expect(mounts).toMatch(/color[0-9a-f]{8}/);
    expect(mounts).toMatch(/db-connection-string[0-9a-f]{8}/);
    // The colour is the page's colour, never words on it; and no other value either.
    expect(await podinfo.locator("body").textContent()).not.toMatch(/\bblue\b|Server=|Password=/i);
  });

  it("rotates a secret through the private form; podinfo shows the old colour, then the new one", {
    timeout: 120_000,
  }, async () => {
    await type("/secret rotate color --lab team-a");
    const form = page.locator("#modal");
    await form.waitFor({ state: "visible" });
    expect(await form.locator("input").first().getAttribute("type")).toBe("password");
    await form.locator("input").first().fill("orange");
    expect(await background(podinfo)).toBe(BLUE);
    await form.getByRole("button", { name: /rotate|submit|save/i }).click();
    await page
      .getByText(/Rotation: color in team-a/)
      .first()
      .waitFor({ timeout: 30_000 });
    await page
      .getByText(/reached 2\/2 pods/)
      .first()
      .waitFor({ timeout: 60_000 });
    await expect.poll(() => background(podinfo), { timeout: 20_000 }).toBe(ORANGE);
    // No old pod is left: whichever pod answers, it answers in the new colour.
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      await podinfo.waitForTimeout(1_000);
      answers.push(await background(podinfo));
    }
    expect(answers).toEqual([ORANGE, ORANGE, ORANGE, ORANGE]);
    const frame = page.frames().find((f) => f.url().includes("/podinfo/team-a/"));
    expect(frame).toBeDefined();
    if (frame) await expect.poll(() => background(frame)).toBe(ORANGE);
    // The value was typed into the form only: it appears nowhere in the channel.
    expect(await page.locator("#messages").textContent()).not.toMatch(/\borange\b/);
    await expectFrame();
    await expectNewestInView(page.locator("#messages"), "the channel");
    await page.screenshot({ path: join(shots, "secret-rotate.png") });
  });

  it("keeps the user's place when they scroll up, and offers the way back down", {
    timeout: 60_000,
  }, async () => {
    const list = page.locator("#messages");
    await list.evaluate((el) => {
      el.scrollTop = 0;
    });
    await type("/lab list");
    await page.locator("#jump-slack").waitFor();
    expect(await list.evaluate((el) => el.scrollTop)).toBeLessThan(50);
    await page.locator("#jump-slack").click();
    await expectNewestInView(list, "the channel after the jump");
    await page.locator("#close-thread").click();
  });

  it("destroys the lab after the owner confirms, mentions shown as names", { timeout: 120_000 }, async () => {
    await type("/lab destroy team-a");
    const confirm = page.getByRole("button", { name: /^Destroy|Confirm/ }).last();
    await confirm.waitFor();
    await expectFrame();
    await confirm.click();
    // The destroy's own card (with its time), and the lab's create card, now without its buttons.
    await page
      .getByText(/Lab team-a is destroyed \(/)
      .first()
      .waitFor({ timeout: 90_000 });
    await page
      .getByText(/Lab team-a: destroyed$/)
      .first()
      .waitFor();
    expect(await page.getByRole("button", { name: "Extend 4h" }).count()).toBe(0);
    await expectFrame();
    await expectNewestInView(page.locator("#messages"), "the channel");
    const text = (await page.locator("#messages").textContent()) ?? "";
    expect(text).toContain("Confirmed by @you");
    expect(text).not.toMatch(/<@U|:[a-z_]+:/);
    await page.screenshot({ path: join(shots, "lab-destroy.png") });
    expect(demo.cloud.azure.inventory().resources.filter((r) => r.id.includes("lab-team-a"))).toEqual([]);
  });

  it("runs the same in the Teams view: create, the password card, a confirmed destroy", {
    timeout: 150_000,
  }, async () => {
    await page.getByRole("tab", { name: /Teams/ }).click();
    const box = page.getByRole("textbox", { name: "Teams message" });
    const posts = page.locator("#posts");
    const say = async (text: string) => {
      await box.fill(text);
      await box.press("Enter");
    };
    await say("lab create team-b");
    await page
      .locator("#teams-hint")
      .getByText(/@mention/)
      .waitFor();
    await page.locator("#teams-hint").getByRole("button", { name: "Add @labops" }).click();
    expect(await box.inputValue()).toBe("@labops lab create team-b");
    await box.press("Enter");
    await posts.getByText(/Lab team-b is ready/).waitFor({ timeout: 90_000 });
    await expectInView(page.locator("#teams-view .header"), "the Teams header");
    await expectInView(box, "the Teams message box");
    await expectNewestInView(posts, "the Teams channel");
    expect(await posts.locator(".pill.st-succeeded").first().textContent()).toBe("Done");

    await say("@labops secret rotate color --lab team-b");
    const password = posts.locator('input[type="password"]').last();
    await password.waitFor();
    // A required input left empty stops the press, as Teams does.
    await posts.getByRole("button", { name: "Rotate" }).last().click();
    await posts.getByText("Type the new value.").waitFor();
    // Not "orange" or "tomato": the bot's hint and the demo's note suggest those.
    await password.fill("teal");
    await page.waitForTimeout(1_000); // the list re-renders meanwhile; what was typed stays
    expect(await password.inputValue()).toBe("teal");
    await page.screenshot({ path: join(shots, "teams.png") });
    await posts.getByRole("button", { name: "Rotate" }).last().click();
    await posts
      .getByText(/Rotation: color in team-b/)
      .first()
      .waitFor({ timeout: 30_000 });
    await posts
      .getByText(/reached 2\/2 pods/)
      .first()
      .waitFor({ timeout: 60_000 });
    expect(await posts.textContent()).not.toMatch(/\bteal\b/);

    await say("@labops lab destroy team-b");
    const confirm = posts.getByRole("button", { name: "Destroy team-b" }).last();
    await confirm.waitFor();
    await confirm.click();
    await posts
      .getByText(/Lab team-b is destroyed \(/)
      .first()
      .waitFor({ timeout: 90_000 });
    // The lab's create card follows it, for everyone: destroyed, its Extend button gone.
    await posts
      .getByText(/Lab team-b: destroyed$/)
      .first()
      .waitFor();
    expect(await posts.getByRole("button", { name: "Extend 4h" }).count()).toBe(0);
    await expectInView(box, "the Teams message box");
    expect(demo.cloud.azure.inventory().resources.filter((r) => r.id.includes("lab-team-b"))).toEqual([]);
  });

  it("asked for nothing that failed and raised no blocking dialog", () => {
    expect(failures).toEqual([]);
  });
});
