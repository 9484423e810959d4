import { LogLevel, type Logger as SlackLogger } from "@slack/logger";
import type { Logger } from "../../src/log.ts";

/**
 * Bolt and the Web API client log through this, so their lines land in our
 * JSON log with its redaction. Their messages are plain strings; request
 * bodies are never passed to them by us.
 */
export function slackLogger(logger: Logger): SlackLogger {
  let level = LogLevel.INFO;
  const log = logger.child({ component: "slack" });
  const text = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : String(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
