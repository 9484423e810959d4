import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { RedisConversationReferenceStore } from "../../adapters/redis/conversations.ts";
import { RedisRateLimiter } from "../../adapters/redis/rate-limiter.ts";
import { LabopsCloudAdapter, teamsAuthentication } from "../../adapters/teams/adapter.ts";
import { TeamsChat, userConversationKey } from "../../adapters/teams/chat.ts";
import { startTeamsEmulatorServer } from "../../emulators/teams/emulator.ts";
import { teamsRatePolicy } from "../../src/chat/limits.ts";
import { PacedChat } from "../../src/chat/paced.ts";
import { systemClock } from "../../src/clock.ts";
import { createLogger } from "../../src/log.ts";
import { type ChatHarness, chatPortContract } from "../contract/chat-port.contract.ts";
import { REDIS_URL, uniquePrefix } from "../helpers/env.ts";
import { teamsVisible } from "../helpers/teams-visible.ts";

const TIME_SCALE = 20;
const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

chatPortContract("TeamsChat (paced) against the Teams emulator", async (): Promise<ChatHarness> => {
  const appId = `00000000-0000-0000-0000-${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, "0")}`;
  const tenantId = "00000000-0000-0000-0000-0000000000aa";
  const teams = await startTeamsEmulatorServer({ appId, appPassword: "pw", tenantId, timeScale: TIME_SCALE });
  const channel = "19:contract0000@thread.tacv2";
  teams.tenant.channels.set(channel, { teamId: "19:team@thread.tacv2", name: "contract" });
  const logger = createLogger({ level: "silent" });
  const config = {
    appId,
    appPassword: "pw",
    tenantId,
    appType: "SingleTenant" as const,
    openIdMetadataUrl: teams.openIdMetadataUrl,
    tokenIssuer: teams.tokenIssuer,
    loginUrl: teams.loginUrl,
  };
  const prefix = uniquePrefix("teams-contract");
  const references = new RedisConversationReferenceStore(redis, prefix);
  const clock = systemClock(TIME_SCALE);
  const adapter = new LabopsCloudAdapter(teamsAuthentication(config, teams.caPem, clock), logger);
  const chat = new PacedChat(new TeamsChat({ adapter, appId, references, clock }), {
    limiter: new RedisRateLimiter(redis, prefix),
    policy: teamsRatePolicy,
    logger,
    clock,
  });
  const address = { platform: "teams", tenant: tenantId, channel, serviceUrl: teams.serviceUrl } as const;
  const user = { platform: "teams", id: "aad-ada", name: "Ada" } as const;
  // As the web role does when Ada writes in the channel: remember her thread, for notices.
  const own = teams.tenant.add({
    conversationId: channel,
    from: { id: "29:aad-ada", name: "Ada", aadObjectId: "aad-ada" },
    text: "hello",
    attachments: [],
    entities: [],
  });
  await references.save(userConversationKey(address, user), {
    channelId: "msteams",
    serviceUrl: teams.serviceUrl,
    user: { id: "29:aad-ada", name: "Ada", aadObjectId: "aad-ada" },
    bot: { id: `28:${appId}`, name: "labops" },
    conversation: {
      id: `${channel};messageid=${own.id}`,
      conversationType: "channel",
      tenantId,
      isGroup: true,
    },
  });
  const bot = `28:${appId}`;
  const t = teams.tenant;
  return {
    chat,
    address,
    user,
    settle: () => chat.flush(),
    roots: async () =>
      t
        .conversation(channel)
        .filter((m) => m.from.id === bot)
        .map(teamsVisible),
    read: async (thread) => {
      const root = t.conversation(channel).find((m) => m.id === thread.threadId);
      if (!root) throw new Error("no such thread");
      return { root: teamsVisible(root), replies: root.replies.map(teamsVisible) };
    },
    notices: async () =>
      t.messages
        .filter(
          (m) =>
            m.from.id === bot &&
            (m.entities as Array<{ mentioned?: { id?: string } }>).some(
              (e) => e.mentioned?.id === "29:aad-ada",
            ),
        )
        .map(teamsVisible),
    close: async () => {
      if (t.calls.some((c) => c.status === 429)) throw new Error("the Teams emulator answered 429");
      await teams.close();
    },
  };
});
