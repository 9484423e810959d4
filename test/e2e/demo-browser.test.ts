import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Demo, startDemo } from "../../emulators/demo/demo.ts";
import { REDIS_URL } from "../helpers/env.ts";

/**
 * The demo page in headless Chromium from Debian (never a downloaded
 * browser): create a lab, rotate a secret through the private form, see it
 * reach the pods, destroy the lab with the confirmation button.
 * LABOPS_SCREENSHOTS=docs writes the README's pictures to docs/screenshots.
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

const shots =
  process.env.LABOPS_SCREENSHOTS === "docs"
    ? new URL("../../docs/screenshots/", import.meta.url).pathname
    : mkdtempSync(join(tmpdir(), "labops-shots-"));

describe("the demo page in a browser", () => {
  let demo: Demo;
  let browser: Browser;
  let page: Page;

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
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(demo.pageUrl ?? "");
    mkdirSync(shots, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  }, 60_000);

  async function type(command: string): Promise<void> {
    await page.getByRole("textbox", { name: "Message" }).fill(command);
    await page.getByRole("textbox", { name: "Message" }).press("Enter");
  }

  it("creates a lab and shows its card complete, with the thread", { timeout: 120_000 }, async () => {
    await type("/lab create team-a");
    await page.getByText("Only visible to you").first().waitFor();
    await page.getByText(/Lab team-a is ready/).waitFor({ timeout: 90_000 });
    await page
      .getByText(/^\d+ replies$/)
      .first()
      .click();
    await page
      .locator("#thread")
      .getByText(/podinfo runs on 2 pods/)
      .waitFor();
    expect(await page.locator("#messages").textContent()).toContain("12/12");
    await page.screenshot({ path: join(shots, "lab-create.png") });
    expect(statSync(join(shots, "lab-create.png")).size).toBeGreaterThan(10_000);
  });

  it("rotates a secret through the private form and follows it to the pods", {
    timeout: 120_000,
  }, async () => {
    await page.locator("#close-thread").click();
    await type("/secret rotate color --lab team-a");
    const form = page.locator("#modal");
    await form.waitFor({ state: "visible" });
    await form.locator("input").first().fill("orange");
    await form.getByRole("button", { name: /rotate|submit|save/i }).click();
    await page
      .getByText(/Rotation: color in team-a/)
      .first()
      .waitFor({ timeout: 30_000 });
    await page
      .getByText(/reached 2\/2 pods/)
      .first()
      .waitFor({ timeout: 60_000 });
    // The value was typed into the form only: it appears nowhere on the page.
    expect(await page.locator("#messages").textContent()).not.toMatch(/\borange\b/);
    await page.locator("#messages").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.screenshot({ path: join(shots, "secret-rotate.png") });
  });

  it("destroys the lab after the owner confirms", { timeout: 120_000 }, async () => {
    await type("/lab destroy team-a");
    const confirm = page.getByRole("button", { name: /^Destroy|Confirm/ }).last();
    await confirm.waitFor();
    await confirm.click();
    await page.getByText(/Lab team-a is destroyed/).waitFor({ timeout: 90_000 });
    await page.screenshot({ path: join(shots, "lab-destroy.png") });
    expect(demo.cloud.azure.inventory().resources.filter((r) => r.id.includes("lab-team-a"))).toEqual([]);
  });
});
