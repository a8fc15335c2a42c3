import type { Decision, LocalRecord, Store, StoreAdapter } from "../types.js";

/** The part of the localforage API used here (the library itself is the application's). */
export interface LocalforageLike {
  createInstance(options: { name: string; storeName?: string }): LocalforageLike;
  getItem<T>(key: string): Promise<T | null>;
  setItem<T>(key: string, value: T): Promise<T>;
  removeItem(key: string): Promise<void>;
  iterate<T, U>(callback: (value: T, key: string, n: number) => U): Promise<U>;
  keys(): Promise<string[]>;
}

export function isLocalforage(value: unknown): value is LocalforageLike {
  const v = value as Partial<LocalforageLike> | null;
  return !!v && typeof v.createInstance === "function" && typeof v.getItem === "function" &&
    typeof v.setItem === "function" && typeof v.iterate === "function";
}

const RECORD = "r:";
const META = "m:";

/**
 * A collection in a localforage instance of its own (keys `r:<id>` and `m:<name>`).
 *
 * localforage has no transactions: `apply` decides everything before writing, and the writes of
 * this page are queued one after the other, so they never interleave. Two tabs writing the same
 * collection at once are not isolated from each other: use the IndexedDB store for that.
 */
export class LocalforageStore implements Store {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly lf: LocalforageLike) {}

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async get(id: string): Promise<LocalRecord | undefined> {
    return (await this.lf.getItem<LocalRecord>(RECORD + id)) ?? undefined;
  }

  async list(): Promise<LocalRecord[]> {
    const records: LocalRecord[] = [];
    await this.lf.iterate<LocalRecord, void>((value, key) => {
      if (key.startsWith(RECORD)) records.push(value);
    });
    return records;
  }

  async listPending(): Promise<LocalRecord[]> {
    return (await this.list()).filter((r) => r._status !== "synced");
  }

  apply(ids: string[], decide: (id: string, current: LocalRecord | undefined) => Decision): Promise<void> {
    return this.serial(async () => {
      const currents = await Promise.all(ids.map((id) => this.get(id)));
      const decisions = ids.map((id, i) => decide(id, currents[i]));
      await Promise.all(
        decisions.map((decision, i) => {
          if (decision === null) return this.lf.removeItem(RECORD + ids[i]);
          if (decision !== undefined) return this.lf.setItem(RECORD + ids[i], decision);
          return undefined;
        }),
      );
    });
  }

  async getMeta(key: string): Promise<unknown> {
    return (await this.lf.getItem(META + key)) ?? undefined;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.serial(async () => {
      await this.lf.setItem(META + key, value);
    });
  }

  clear(): Promise<void> {
    return this.serial(async () => {
      const keys = await this.lf.keys();
      await Promise.all(keys.map((k) => this.lf.removeItem(k)));
    });
  }
}

/** Stores collections in localforage: `new Client({ store: localforage })`. */
export class LocalforageAdapter implements StoreAdapter {
  private stores = new Map<string, LocalforageStore>();

  constructor(private readonly lf: LocalforageLike, private readonly prefix = "cliquet") {}

  open(name: string): Store {
    let store = this.stores.get(name);
    if (!store) {
      store = new LocalforageStore(this.lf.createInstance({ name: `${this.prefix}/${name}`, storeName: "records" }));
      this.stores.set(name, store);
    }
    return store;
  }
}
