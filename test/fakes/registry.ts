import type { LabRecord, LabRegistry } from "../../src/ports/registry.ts";

/**
 * The lab registry in memory. Records go in and come out as copies, as they
 * would through Redis, so a caller that changes one changes nothing stored.
 */
export class MemoryLabRegistry<R extends Omit<LabRecord, "host"> = LabRecord> implements LabRegistry<R> {
  readonly #labs = new Map<string, R>();

  async get(name: string): Promise<R | undefined> {
    const record = this.#labs.get(name);
    return record && structuredClone(record);
  }

  async create(record: R): Promise<boolean> {
    if (this.#labs.has(record.name)) return false;
    this.#labs.set(record.name, structuredClone(record));
    return true;
  }

  async update(name: string, change: (record: R) => R): Promise<R | undefined> {
    const record = this.#labs.get(name);
    if (!record) return undefined;
    const next = change(structuredClone(record));
    this.#labs.set(name, structuredClone(next));
    return next;
  }

  async delete(name: string): Promise<void> {
    this.#labs.delete(name);
  }

  async list(): Promise<R[]> {
    return [...this.#labs.values()]
      .sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((r) => structuredClone(r));
  }
}
