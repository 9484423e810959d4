import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startLabops } from "../../app/main.ts";
import { type AzureEmulator, startAzureEmulator } from "../../emulators/azure/index.ts";
import { type ChatEmulators, startChatEmulators } from "../../emulators/chat.ts";
import { type KubernetesEmulator, startKubernetesEmulator } from "../../emulators/kubernetes/index.ts";
import { createCertificateAuthority } from "../../emulators/shared/tls.ts";
import { COMMANDS_QUEUE } from "../../jobs/queue.ts";
import { createLogger } from "../../src/log.ts";
import type { World } from "../helpers/chat-world.ts";
import { type ChatDriver, slackDriver, teamsDriver } from "../helpers/drivers.ts";
import { LogCapture, REDIS_URL, testEnv, waitFor } from "../helpers/env.ts";

/**
 * End to end, with the lab workflows: a chat command through intake and the
 * queue to the workers, the real Azure SDKs and @kubernetes/client-node
 * against the Azure and AKS emulators, and the progress back into the chat,
 * on Slack and on Teams. The secret's new value is typed in the private form
 * and must reach Key Vault, and nothing else.
 */
const TIME_SCALE = 2_000;

describe("chat -> lab workflows -> emulated Azure and AKS -> chat", () => {
  let azure: AzureEmulator;
  let kube: KubernetesEmulator;
  let chat: ChatEmulators;
  let bot: Running;
  let redis: Redis;
  let queue: Queue;
  let prefix: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    const ca = await createCertificateAuthority("labops e2e CA");
    azure = await startAzureEmulator({ timeScale: TIME_SCALE, ca });
    kube = await startKubernetesEmulator({ azure: azure.world, ca });
    chat = await startChatEmulators({ timeScale: TIME_SCALE, ca });
    const azureEnv = Object.fromEntries(
      azure.envLines().map((line) => {
        const cut = line.indexOf("=");
        return [line.slice(0, cut), line.slice(cut + 1)];
      }),
    );
    const env = testEnv({ ...azureEnv, ...chat.env, LABOPS_TIME_SCALE: String(TIME_SCALE) });
    prefix = String(env.LABOPS_REDIS_PREFIX);
    bot = await startLabops({
      env,
      logger: createLogger({ level: "info", destination: logs }),
      host: "127.0.0.1",
    });
    chat.connect(`http://127.0.0.1:${bot.port}`);
    redis = new Redis(REDIS_URL);
    queue = new Queue(COMMANDS_QUEUE, { connection: redis, prefix });
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    const keys = (await redis?.keys(`${prefix}:*`)) ?? [];
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await chat?.close();
    await kube?.stop();
    await azure?.stop();
  });

  it.each([
    ["slack", "team-s", (w: World) => slackDriver(w, "C0E2E")],
    ["teams", "team-t", (w: World) => teamsDriver(w, "e2e")],
  ] as const)(
    "on %s: create, a refused destroy, a private rotation, a confirmed destroy",
    async (_platform, lab, driver) => {
      const canary = `canary-${lab}-4e9d`;
      const c: ChatDriver = driver({ slack: chat.slack, teams: chat.teams } as unknown as World);
      const thread = (pattern: RegExp) => c.threads().find((t) => pattern.test(t.title));

      await c.say("ada", `lab create ${lab}`);
      await waitFor(
        () => thread(new RegExp(`^Lab ${lab} is ready`))?.replies.length === 3 || undefined,
        "the lab",
        60_000,
      );
      expect(thread(new RegExp(`^Lab ${lab} is ready`))?.status).toBe("succeeded");

      await c.say("bob", `lab destroy ${lab} --yes`);
      expect(c.toldTo("bob").join("\n")).toMatch(
        new RegExp(`Only .*who created .?${lab}.?, a member they granted, or an admin can destroy it`),
      );

      await c.rotatePrivately("ada", "color", canary);
      // Slack tells the result after closing the form, so this may come a moment later.
      await waitFor(
        () =>
          new RegExp(`Queued .?secret rotate color --lab ${lab}`).test(c.toldTo("ada").join("\n")) ||
          undefined,
        "the answer to the rotation",
      );
      await waitFor(() => thread(new RegExp(`^Rotation: color in ${lab}`)), "the rotation's thread", 60_000);
      const rotated = await waitFor(
        async () => {
          const jobs = await queue.getJobs(["completed", "failed"]);
          return jobs.find(
            (j) =>
              j.name === "secret.rotate" && (j.data as { command: { lab?: string } }).command.lab === lab,
          );
        },
        "the rotation job to finish",
        60_000,
      );
      expect(await rotated.isCompleted()).toBe(true);

      await c.say("ada", `lab destroy ${lab}`);
      await c.press("ada", "destroy.confirm");
      await waitFor(
        () => thread(new RegExp(`^Lab ${lab} is destroyed`))?.status === "succeeded" || undefined,
        "the destroy",
        60_000,
      );

      expect(logs.text()).not.toContain(canary);
      expect(c.everything()).not.toContain(canary);
      expect(chat.slack.rateLimited()).toEqual([]);
      expect(chat.teams.rateLimited()).toEqual([]);
    },
    120_000,
  );
});
