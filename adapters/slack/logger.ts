import { LogLevel, type Logger as SlackLogger } from "@slack/logger";
import type { Logger } from "../../src/log.ts";

/**
 * Bolt, the Web API client and the Socket Mode client log through this, so
 * their lines land in our JSON log with its redaction. Their debug lines are
 * dropped whatever our level: they print raw payloads ("Received a message on
 * the WebSocket: …"), and a modal submission's payload holds a secret value.
 */
export function slackLogger(logger: Logger): SlackLogger {
  const log = logger.child({ component: "slack" });
  const text = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : String(m))).join(" ");
  return {
    debug: () => undefined,
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
