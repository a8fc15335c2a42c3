import type { Decision, LocalRecord, Store, StoreAdapter } from "../types.js";

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    tx.onerror = () => reject(tx.error);
  });
}

/**
 * A collection in an IndexedDB database of its own (`<prefix>/<name>`): object stores `records`
 * (by id, indexed by `_status`) and `meta`. `apply` is one readwrite transaction, atomic across
 * the tabs of a browser.
 */
export class IndexedDBStore implements Store {
  private db: Promise<IDBDatabase> | undefined;

  constructor(
    private readonly dbName: string,
    private readonly factory: IDBFactory = globalThis.indexedDB,
  ) {
    if (!factory) throw new Error("IndexedDB is not available here: use the memory store");
  }

  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      const request = this.factory.open(this.dbName, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        const records = db.createObjectStore("records", { keyPath: "id" });
        records.createIndex("status", "_status");
        db.createObjectStore("meta");
      };
      this.db = done(request);
      this.db.catch(() => (this.db = undefined));
    }
    return this.db;
  }

  private async tx(names: string[], mode: IDBTransactionMode): Promise<IDBTransaction> {
    return (await this.open()).transaction(names, mode);
  }

  async get(id: string): Promise<LocalRecord | undefined> {
    const tx = await this.tx(["records"], "readonly");
    return done(tx.objectStore("records").get(id));
  }

  async list(): Promise<LocalRecord[]> {
    const tx = await this.tx(["records"], "readonly");
    return done(tx.objectStore("records").getAll());
  }

  async listPending(): Promise<LocalRecord[]> {
    const tx = await this.tx(["records"], "readonly");
    const index = tx.objectStore("records").index("status");
    const lists = await Promise.all(
      (["created", "updated", "deleted"] as const).map((s) => done(index.getAll(s))),
    );
    return lists.flat() as LocalRecord[];
  }

  async apply(ids: string[], decide: (id: string, current: LocalRecord | undefined) => Decision): Promise<void> {
    const tx = await this.tx(["records"], "readwrite");
    const store = tx.objectStore("records");
    const result = finished(tx);
    let failure: unknown;
    for (const id of ids) {
      const request = store.get(id);
      request.onsuccess = () => {
        if (failure !== undefined) return;
        try {
          const decision = decide(id, request.result as LocalRecord | undefined);
          if (decision === null) store.delete(id);
          else if (decision !== undefined) store.put(decision);
        } catch (e) {
          failure = e;
          tx.abort();
        }
      };
    }
    try {
      await result;
    } catch (e) {
      throw failure ?? e;
    }
    if (failure !== undefined) throw failure;
  }

  async getMeta(key: string): Promise<unknown> {
    const tx = await this.tx(["meta"], "readonly");
    return done(tx.objectStore("meta").get(key));
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    const tx = await this.tx(["meta"], "readwrite");
    tx.objectStore("meta").put(value, key);
    await finished(tx);
  }

  async clear(): Promise<void> {
    const tx = await this.tx(["records", "meta"], "readwrite");
    tx.objectStore("records").clear();
    tx.objectStore("meta").clear();
    await finished(tx);
  }
}

/** Opens one IndexedDB database per collection, named `<prefix>/<collection name>`. */
export class IndexedDBAdapter implements StoreAdapter {
  constructor(
    private readonly prefix = "cliquet",
    private readonly factory: IDBFactory = globalThis.indexedDB,
  ) {}

  open(name: string): Store {
    return new IndexedDBStore(`${this.prefix}/${name}`, this.factory);
  }
}
