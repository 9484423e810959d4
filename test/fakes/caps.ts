import { conversationKey, userKey } from "../../src/commands/caps.ts";
import type { AdmitRequest, AdmitResult, LabCaps } from "../../src/ports/caps.ts";
import type { LabRegistry } from "../../src/ports/registry.ts";

interface Hold {
  token: string;
  user: string;
  conversation: string;
  owner: string;
  expires: number;
}

/**
 * The caps in memory, over a registry (the fake one, usually): live labs are
 * its records not destroyed plus the names held by creates. Everything after
 * the registry read runs without an await, so concurrent admits are decided
 * one after the other, as the Redis script decides them.
 */
export class MemoryLabCaps implements LabCaps {
  readonly #registry: Pick<LabRegistry, "list">;
  readonly #rates = new Map<string, Array<{ at: number; token: string }>>();
  readonly #holds = new Map<string, Hold>();

  constructor(registry: Pick<LabRegistry, "list">) {
    this.#registry = registry;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { subject, limits, now, token, create, batch } = request;
    const records = create || batch ? await this.#registry.list() : [];
    // From here on, nothing awaits.
    const rate = (this.#rates.get(subject.user) ?? []).filter((e) => e.at > now - limits.windowMs);
    this.#rates.set(subject.user, rate);
    if (!subject.exempt && rate.length >= limits.commands) {
      return { ok: false, cap: "rate", count: rate.length, retryAt: (rate[0]?.at ?? now) + limits.windowMs };
    }
    if (create) {
      for (const [name, h] of this.#holds) if (h.expires <= now) this.#holds.delete(name);
      const recorded = new Map(
        records
          .filter((r) => r.state !== "destroyed")
          .map((r) => [r.name, { user: userKey(r.owner), conversation: conversationKey(r.address) }]),
      );
      const live = [...recorded.entries()].map(([name, r]) => ({ name, ...r }));
      for (const [name, h] of this.#holds) if (!recorded.has(name)) live.push({ name, ...h });
      const held = this.#holds.get(create.lab);
      if (held && held.token !== token) {
        return {
          ok: false,
          cap: "name",
          holder: "pending",
          sameConversation: held.conversation === subject.conversation,
          owner: held.owner,
        };
      }
      const record = recorded.get(create.lab);
      if (record && record.conversation !== subject.conversation) {
        return { ok: false, cap: "name", holder: "record", sameConversation: false };
      }
      if (!record) {
        const mine = live.filter((l) => l.user === subject.user).map((l) => l.name);
        const here = live.filter((l) => l.conversation === subject.conversation).map((l) => l.name);
        if (!subject.exempt && mine.length >= limits.labsPerUser)
          return { ok: false, cap: "user", labs: mine };
        if (!subject.exempt && here.length >= limits.labsPerConversation) {
          return { ok: false, cap: "conversation", labs: here };
        }
        if (live.length >= limits.labs) return { ok: false, cap: "labs", labs: live.map((l) => l.name) };
      }
      this.#holds.set(create.lab, {
        token,
        user: subject.user,
        conversation: subject.conversation,
        owner: create.owner,
        expires: now + create.holdMs,
      });
    }
    if (batch) {
      for (const [name, h] of this.#holds) if (h.expires <= now) this.#holds.delete(name);
      const recorded = new Set(records.filter((r) => r.state !== "destroyed").map((r) => r.name));
      const live = [...recorded, ...[...this.#holds.keys()].filter((n) => !recorded.has(n))];
      const adding = [...new Set(batch.labs)].filter((n) => !recorded.has(n) && !this.#holds.has(n));
      if (live.length + adding.length > limits.labs) {
        return { ok: false, cap: "labs", labs: live, adding: adding.length };
      }
      for (const lab of adding) {
        this.#holds.set(lab, {
          token,
          user: subject.user,
          conversation: subject.conversation,
          owner: batch.owner,
          expires: now + batch.holdMs,
        });
      }
    }
    if (!subject.exempt) rate.push({ at: now, token });
    return { ok: true };
  }

  async release(lab: string, token: string): Promise<void> {
    if (this.#holds.get(lab)?.token === token) this.#holds.delete(lab);
  }

  async cancel(request: AdmitRequest): Promise<void> {
    const { subject, token } = request;
    const rate = this.#rates.get(subject.user);
    if (rate)
      this.#rates.set(
        subject.user,
        rate.filter((e) => e.token !== token),
      );
    for (const lab of [...(request.create ? [request.create.lab] : []), ...(request.batch?.labs ?? [])]) {
      await this.release(lab, token);
    }
  }
}
