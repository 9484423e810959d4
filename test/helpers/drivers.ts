import type { SlackMessage } from "../../emulators/slack/emulator.ts";
import type { TeamsMessage } from "../../emulators/teams/emulator.ts";
import type { ChatAddress } from "../../src/ports/chat.ts";
import { TEAMS_TENANT, type World } from "./chat-world.ts";
import { waitFor } from "./env.ts";
import { slackVisible } from "./slack-visible.ts";
import { teamsStatus, teamsVisible } from "./teams-visible.ts";

/** A bot thread as a channel member sees it, the same shape on both platforms. */
export interface SeenThread {
  title: string;
  status: string | undefined;
  replies: string[];
}

export type Person = "ada" | "bob";

/**
 * Drives one platform's emulator as people would: the same script runs on
 * Slack and on Teams, and reads back what they see in the same shape.
 */
export interface ChatDriver {
  readonly platform: "slack" | "teams";
  /** The lab's conversation, as the bot addresses it. */
  readonly address: ChatAddress;
  /** Types a command (Slack: a slash command; Teams: a message that @mentions the bot). */
  say(person: Person, command: string): Promise<void>;
  /** `secret rotate NAME` with the value typed privately (Slack: the modal; Teams: the password card). */
  rotatePrivately(person: Person, secret: string, value: string): Promise<void>;
  /** Presses a button of the newest message offering it to `person` (Confirm, Cancel, Retry…). */
  press(person: Person, actionId: string): Promise<void>;
  threads(): SeenThread[];
  /** What the bot said to `person` (answers, prompts, replaced prompts), oldest first. */
  toldTo(person: Person): string[];
  /** Every piece of text a member of the conversation can see, for canary searches. */
  everything(): string;
}

const SLACK_USERS: Record<Person, string> = { ada: "U0ADA", bob: "U0BOB" };
const TEAMS_USERS: Record<Person, { aadObjectId: string; name: string }> = {
  ada: { aadObjectId: "aad-ada", name: "Ada" },
  bob: { aadObjectId: "aad-bob", name: "Bob" },
};

const SLACK_ICONS: Record<string, string> = {
  ":white_check_mark:": "succeeded",
  ":x:": "failed",
  ":arrows_counterclockwise:": "running",
  ":hourglass_flowing_sand:": "queued",
  ":warning:": "warning",
  ":information_source:": "info",
  ":no_entry_sign:": "cancelled",
};

export function slackDriver(w: World, channel: string): ChatDriver {
  const ws = w.slack.workspace;
  const as = (p: Person) => w.slack.as(SLACK_USERS[p], p);
  const title = (m: SlackMessage) => {
    const first = slackVisible(m).text.split("\n")[0] ?? "";
    const icon = Object.keys(SLACK_ICONS).find((i) => first.startsWith(i));
    return {
      title: first.replace(/^:[a-z_]+: /, "").replace(/\*/g, ""),
      status: icon ? SLACK_ICONS[icon] : undefined,
    };
  };
  return {
    platform: "slack",
    address: { platform: "slack", tenant: ws.team, channel },
    async say(person, command) {
      const [head = "", ...rest] = command.split(" ");
      await as(person).slash(`/${head}`, rest.join(" "), { channel });
    },
    async rotatePrivately(person, secret, value) {
      const user = as(person);
      await user.slash("/secret", `rotate ${secret}`, { channel });
      // Slack opens the modal just after acknowledging the command.
      const view = await waitFor(() => user.openViews().at(-1), "the rotate modal");
      const res = await user.submit(view, { value });
      if (res.body?.response_action === "errors")
        throw new Error(`modal refused: ${JSON.stringify(res.body)}`);
    },
    async press(person, actionId) {
      const user = as(person);
      const offering = user
        .conversation(channel)
        .flatMap((m) => [m, ...m.replies])
        .filter((m) => slackVisible(m).buttons.some((b) => b.id === actionId));
      const newest = offering.at(-1);
      if (!newest) throw new Error(`no message offers ${actionId} to ${person}`);
      await user.click(newest, actionId);
    },
    threads() {
      return ws
        .conversation(channel)
        .filter((m) => m.user === "U0BOT" && !m.ephemeral)
        .map((m) => ({
          ...title(m),
          replies: m.replies.filter((r) => !r.ephemeral).map((r) => slackVisible(r).text),
        }));
    },
    toldTo(person) {
      return ws.messages
        .filter(
          (m) => m.channel === channel && m.ephemeral && m.visibleTo === SLACK_USERS[person] && !m.deleted,
        )
        .map((m) => slackVisible(m).text);
    },
    everything() {
      return JSON.stringify(ws.messages) + JSON.stringify(ws.calls) + JSON.stringify([...ws.views.values()]);
    },
  };
}

export function teamsDriver(w: World, channelName: string): ChatDriver {
  const channel = w.teams.channel(channelName);
  const tenant = w.teams.tenant;
  const bot = (m: TeamsMessage) => m.from.role === "bot";
  const own = (p: Person) => (m: TeamsMessage) => m.from.aadObjectId === TEAMS_USERS[p].aadObjectId;
  /** Bot messages in the threads `person` started: that is where Teams answers them. */
  const answersTo = (p: Person) =>
    tenant
      .conversation(channel)
      .filter(own(p))
      .flatMap((root) => root.replies.filter(bot));
  return {
    platform: "teams",
    address: { platform: "teams", tenant: TEAMS_TENANT, channel, serviceUrl: w.teams.serviceUrl },
    async say(person, command) {
      const res = await w.teams.as(TEAMS_USERS[person]).say(channel, command);
      if (res.status !== 200) throw new Error(`Teams answered ${res.status}`);
      await res.answer();
    },
    async rotatePrivately(person, secret, value) {
      await this.say(person, `secret rotate ${secret}`);
      const card = answersTo(person).findLast((m) =>
        teamsVisible(m).buttons.some((b) => b.id === "secret.rotate.submit"),
      );
      if (!card) throw new Error("no rotate card");
      const res = await w.teams
        .as(TEAMS_USERS[person])
        .execute(card, "secret.rotate.submit", { data: { value } });
      if (res.status !== 200) throw new Error(`Teams answered ${res.status}`);
    },
    async press(person, actionId) {
      const offering = tenant
        .conversation(channel)
        .flatMap((m) => [m, ...m.replies])
        .filter((m) => bot(m) && teamsVisible(m).buttons.some((b) => b.id === actionId));
      const newest = offering.at(-1);
      if (!newest) throw new Error(`no message offers ${actionId}`);
      const res = await w.teams.as(TEAMS_USERS[person]).execute(newest, actionId);
      if (res.status !== 200) throw new Error(`Teams answered ${res.status}`);
    },
    threads() {
      return tenant
        .conversation(channel)
        .filter(bot)
        .map((m) => ({
          title: (teamsVisible(m).text.split("\n")[0] ?? "").replace(/^\S+ /, ""),
          status: teamsStatus(m),
          replies: m.replies.map((r) => teamsVisible(r).text),
        }));
    },
    toldTo(person) {
      const toasts = tenant.messages.flatMap((m) =>
        m.toasts.filter((t) => t.to === TEAMS_USERS[person].aadObjectId).map((t) => t.text),
      );
      return [...answersTo(person).map((m) => teamsVisible(m).text), ...toasts];
    },
    everything() {
      return JSON.stringify(tenant.messages) + JSON.stringify(tenant.calls);
    },
  };
}

/** A line of what someone was told, without what differs by platform: refs, mentions, markdown marks. */
export function gist(text: string): string[] {
  return text
    .split("\n")
    .map((l) =>
      l
        .replace(/\(ref c-[0-9a-f]+\)/g, "(ref)")
        .replace(/<@U0ADA>|\bAda\b/g, "ADA")
        .replace(/<@U0BOB>|\bBob\b/g, "BOB")
        .replace(/[*`]/g, "")
        .trim(),
    )
    .filter((l) => /^(Queued|Only|Destroy lab|Cancelled|This confirmation)/.test(l));
}
