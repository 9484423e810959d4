import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, deferredChild, newCorrelationId } from "../../src/log.ts";

describe("logging on the path of every command", () => {
  function capture(level: string) {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    return { logger: createLogger({ level, destination }), lines };
  }

  it("writes its lines with the bindings, and makes no child while nothing is written", () => {
    const { logger, lines } = capture("warn");
    let children = 0;
    const child = logger.child.bind(logger);
    logger.child = ((...args: Parameters<typeof child>) => {
      children += 1;
      return child(...args);
    }) as typeof logger.child;
    const log = deferredChild(logger, { correlationId: "c-1", user: "U1" });
    log.info({ command: "lab list" }, "command.queued");
    expect(children).toBe(0);
    log.warn({ code: "x", token: "xoxb-1" }, "slack.something");
    log.error("audit.write_failed");
    expect(children).toBe(1);
    expect(lines.map((l) => [l.msg, l.correlationId, l.user, l.token])).toEqual([
      ["slack.something", "c-1", "U1", "[redacted]"],
      ["audit.write_failed", "c-1", "U1", undefined],
    ]);
  });

  it("gives distinct correlation ids of the same shape, past the pool it draws from", () => {
    const ids = Array.from({ length: 1000 }, () => newCorrelationId());
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^c-[0-9a-f]{12}$/);
  });
});
