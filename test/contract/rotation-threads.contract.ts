import { describe, expect, it } from "vitest";
import type { RotationThread, RotationThreads } from "../../src/ports/watcher.ts";
import { waitFor } from "../helpers/env.ts";

export interface RotationThreadsHarness {
  threads: RotationThreads;
  /** The same store as another replica (a watcher, or the worker that registers) sees it. */
  peer: RotationThreads;
  close?(): Promise<void>;
}

const entry = (lab: string, version: string, extra: Partial<RotationThread> = {}): RotationThread => ({
  lab,
  secret: "color",
  version,
  thread: { address: { platform: "slack", tenant: "T1", channel: "C1" }, threadId: "1.2", cardId: "1.2" },
  card: { title: `Rotation: color in ${lab}`, status: "running", fields: [{ label: "By", value: "ada" }] },
  by: "ada",
  correlationId: "c-1",
  writtenAt: 1_000,
  ...extra,
});

/**
 * What every RotationThreads keeps: the thread a rotate command opened is
 * found by lab, secret and version from any replica, and every subscribed
 * replica hears which lab has news, from its subscription on, in order.
 */
export function rotationThreadsContract(
  name: string,
  setup: () => Promise<RotationThreadsHarness> | RotationThreadsHarness,
): void {
  describe(`RotationThreads contract: ${name}`, () => {
    it("finds a rotate command's thread and tells subscribers which lab has news", async () => {
      const h = await setup();
      const heard: string[] = [];
      const unsubscribe = await h.threads.subscribe((lab) => heard.push(lab));
      try {
        await h.threads.register(entry("lab-f", "abc123"));
        expect((await h.threads.find("lab-f", "color", "abc123"))?.by).toBe("ada");
        expect(await h.threads.find("lab-f", "color", "other")).toBeUndefined();
        await waitFor(() => (heard.includes("lab-f") ? true : undefined), "the nudge");
      } finally {
        await unsubscribe();
        await h.close?.();
      }
    });

    it("finds by lab, secret and version from any replica; a later registration of the same replaces it", async () => {
      const h = await setup();
      try {
        const first = entry("lab-a", "v2");
        await h.threads.register(first);
        expect(await h.peer.find("lab-a", "color", "v2")).toEqual(first);
        expect(await h.peer.find("lab-a", "size", "v2")).toBeUndefined();
        expect(await h.peer.find("lab-b", "color", "v2")).toBeUndefined();
        const second = entry("lab-a", "v2", { by: "bob", correlationId: "c-2", writtenAt: 2_000 });
        await h.peer.register(second);
        expect(await h.threads.find("lab-a", "color", "v2")).toEqual(second);
      } finally {
        await h.close?.();
      }
    });

    it("tells every subscriber, in order, from its subscription on, until it unsubscribes", async () => {
      const h = await setup();
      const mine: string[] = [];
      const theirs: string[] = [];
      await h.threads.register(entry("lab-before", "v1"));
      const unsubscribeMine = await h.threads.subscribe((lab) => mine.push(lab));
      const unsubscribeTheirs = await h.peer.subscribe((lab) => theirs.push(lab));
      try {
        for (const lab of ["lab-1", "lab-2", "lab-3"]) await h.peer.register(entry(lab, "v1"));
        await waitFor(() => (mine.length >= 3 && theirs.length >= 3 ? true : undefined), "both nudged");
        expect(mine).toEqual(["lab-1", "lab-2", "lab-3"]);
        expect(theirs).toEqual(["lab-1", "lab-2", "lab-3"]);
        await unsubscribeMine();
        await h.threads.register(entry("lab-4", "v1"));
        await waitFor(() => (theirs.includes("lab-4") ? true : undefined), "the other nudged");
        expect(mine).toEqual(["lab-1", "lab-2", "lab-3"]);
      } finally {
        await unsubscribeTheirs();
        await h.close?.();
      }
    });
  });
}
