import type { Decision, LocalRecord, Store, StoreAdapter } from "../types.js";

const clone = <T>(value: T): T => structuredClone(value);

/** A collection kept in memory: for Node, tests, and pages that need no persistence. */
export class MemoryStore implements Store {
  private records = new Map<string, LocalRecord>();
  private meta = new Map<string, unknown>();

  async get(id: string): Promise<LocalRecord | undefined> {
    const record = this.records.get(id);
    return record && clone(record);
  }

  async list(): Promise<LocalRecord[]> {
    return Array.from(this.records.values(), clone);
  }

  async listPending(): Promise<LocalRecord[]> {
    return Array.from(this.records.values()).filter((r) => r._status !== "synced").map(clone);
  }

  async apply(ids: string[], decide: (id: string, current: LocalRecord | undefined) => Decision): Promise<void> {
    // Decide everything first: a throw leaves the store untouched.
    const decisions: Array<[string, Decision]> = ids.map((id) => {
      const current = this.records.get(id);
      return [id, decide(id, current && clone(current))];
    });
    for (const [id, decision] of decisions) {
      if (decision === null) this.records.delete(id);
      else if (decision !== undefined) this.records.set(id, clone(decision));
    }
  }

  async getMeta(key: string): Promise<unknown> {
    return clone(this.meta.get(key));
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    this.meta.set(key, clone(value));
  }

  async clear(): Promise<void> {
    this.records.clear();
    this.meta.clear();
  }
}

/** Opens one {@link MemoryStore} per collection name (the same one for the same name). */
export class MemoryAdapter implements StoreAdapter {
  private stores = new Map<string, MemoryStore>();

  open(name: string): Store {
    let store = this.stores.get(name);
    if (!store) {
      store = new MemoryStore();
      this.stores.set(name, store);
    }
    return store;
  }
}
