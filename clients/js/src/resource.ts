import { NetworkError, RecordError, ServerError } from "./errors.js";
import { matcher, sortRecords, toQuerystring, type Query } from "./filters.js";
import { fieldsOf, publicRecord, synced } from "./records.js";
import {
  importChanges, newResult, pull, push, Strategy, type Conflict, type SyncContext, type SyncResult,
} from "./sync.js";
import type { Client } from "./client.js";
import type { LocalRecord, Record_, Status, Store } from "./types.js";

/** A record as read back: its fields, `id`, `last_modified` once on the server, and `_status`. */
export type StoredRecord = Record_ & { _status: Status };

export interface ReadOptions {
  /**
   * Ask the server first (`true`), or read the local store only (`false`). The default, the
   * client's `remote` option, is to ask the server and fall back on the store when it cannot be
   * reached. Either way the answer comes from the local store, refreshed by what the server sent,
   * so that local changes not yet synced are always in it.
   */
  remote?: boolean;
}

export interface ListOptions extends ReadOptions {
  /** `_sort`-like keys: `"-last_modified"` (default), `"title,-last_modified"`. */
  sort?: string;
  filters?: Query;
  limit?: number;
}

export interface SyncOptions {
  strategy?: Strategy;
  /** Sync even though the server asked to back off. */
  force?: boolean;
}

const TIMESTAMP = "lastModified";

/** One collection of the server (`/articles`), kept in a local store and synced with it. */
export class Resource {
  readonly store: Store;
  private syncing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly client: Client,
    readonly path: string,
    readonly options: { strategy?: Strategy } = {},
  ) {
    if (!/^\/[^?#]*[^/?#]$/.test(path)) throw new TypeError(`A resource path is like "/articles", not ${JSON.stringify(path)}`);
    this.store = client.adapter.open(client.storeName(path));
  }

  private newId(record: Partial<Record_>): string {
    if (record.id === undefined) return crypto.randomUUID();
    if (typeof record.id !== "string" || record.id === "") throw new TypeError("A record id is a non-empty string");
    return record.id;
  }

  /** Create a record locally (pushed by the next sync); works offline. */
  async create(record: Record<string, unknown>): Promise<StoredRecord> {
    const id = this.newId(record as Partial<Record_>);
    let written: LocalRecord | undefined;
    await this.store.apply([id], (_id, current) => {
      if (current && current._status !== "deleted") throw new RecordError(`Record ${id} already exists`, id);
      written = {
        ...fieldsOf(record), id, last_modified: current?.last_modified,
        _status: current?.last_modified === undefined ? "created" : "updated", _rev: (current?._rev ?? 0) + 1,
      };
      return written;
    });
    return publicRecord(written!);
  }

  /**
   * Replace a record's fields locally (`{ patch: true }`: merge them into the current ones).
   */
  async update(record: Record<string, unknown>, { patch = false }: { patch?: boolean } = {}): Promise<StoredRecord> {
    const id = record.id;
    if (typeof id !== "string" || id === "") throw new TypeError("update() needs the record's id");
    let written: LocalRecord | undefined;
    await this.store.apply([id], (_id, current) => {
      if (!current || current._status === "deleted") throw new RecordError(`Record ${id} not found`, id);
      const fields = patch ? { ...fieldsOf(current), ...fieldsOf(record) } : fieldsOf(record);
      written = {
        ...fields, id, last_modified: current.last_modified,
        _status: current.last_modified === undefined ? "created" : "updated", _rev: current._rev + 1,
      };
      return written;
    });
    return publicRecord(written!);
  }

  /** Delete a record locally; the next sync deletes it on the server. */
  async delete(id: string): Promise<{ id: string; deleted: true }> {
    await this.store.apply([id], (_id, current) => {
      if (!current || current._status === "deleted") throw new RecordError(`Record ${id} not found`, id);
      // Kept as a local tombstone until the server has it (even one never pushed: a sync may be
      // pushing its creation right now).
      return { ...current, _status: "deleted", _rev: current._rev + 1 };
    });
    return { id, deleted: true };
  }

  private wantsRemote(options: ReadOptions): boolean {
    const remote = options.remote ?? this.client.remoteReads;
    if (!remote) return false;
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    return nav?.onLine !== false;
  }

  /** Run `read` against the server; an unreachable or failing (5xx) server is not an error here. */
  private async fromServer(read: () => Promise<void>): Promise<void> {
    try {
      await read();
    } catch (e) {
      if (e instanceof NetworkError || (e instanceof ServerError && e.status >= 500)) return;
      throw e;
    }
  }

  private context(strategy: Strategy, batchMaxRequests = 25): SyncContext {
    return {
      http: this.client.http, store: this.store, path: this.path, strategy, batchMaxRequests,
      importChunkSize: this.client.importChunkSize, resultLimit: this.client.resultLimit,
    };
  }

  /** One record: from the server when it can be reached, else from the local store. */
  async get(id: string, options: ReadOptions = {}): Promise<StoredRecord> {
    const local = await this.store.get(id);
    // Created here and never synced: the server cannot have it yet.
    const unknownThere = local !== undefined && local.last_modified === undefined;
    if (!unknownThere && this.wantsRemote(options)) {
      await this.fromServer(async () => {
        try {
          const { body } = await this.client.http.request<{ data: Record_ }>("GET", `${this.path}/${encodeURIComponent(id)}`);
          await importChanges(this.context(Strategy.MANUAL), [body.data], newResult(), Strategy.MANUAL, new Set());
        } catch (e) {
          if (!(e instanceof ServerError && e.status === 404)) throw e;
          // Gone from the server: a synced copy goes too; a local change stays.
          await this.store.apply([id], (_id, current) => (current?._status === "synced" ? null : undefined));
        }
      });
    }
    const record = await this.store.get(id);
    if (!record || record._status === "deleted") throw new RecordError(`Record ${id} not found`, id);
    return publicRecord(record);
  }

  /** Records, sorted (`"-last_modified"` by default) and filtered. */
  async list(options: ListOptions = {}): Promise<StoredRecord[]> {
    const keep = matcher(options.filters ?? {});
    if (this.wantsRemote(options)) await this.fromServer(() => this.refresh(options));
    const records = (await this.store.list()).filter((r) => r._status !== "deleted" && keep(r));
    sortRecords(records, options.sort);
    const limited = options.limit === undefined ? records : records.slice(0, options.limit);
    return limited.map(publicRecord);
  }

  /** Records matching `query` (`{ title: { $eq: "Hello" } }`; see {@link Query}). */
  filter(query: Query, options: Omit<ListOptions, "filters"> = {}): Promise<StoredRecord[]> {
    return this.list({ ...options, filters: query });
  }

  /** Read the matching records from the server (the query mapped onto its querystring). */
  private async refresh(options: ListOptions): Promise<void> {
    const params = new URLSearchParams(toQuerystring(options.filters ?? {}));
    if (options.sort) params.set("_sort", options.sort);
    if (options.limit !== undefined) params.set("_limit", String(options.limit));
    const query = params.toString();
    let url: string | null = query ? `${this.path}?${query}` : this.path;
    let read = 0;
    while (url && (options.limit === undefined || read < options.limit)) {
      const response: { body: { data: Record_[] }; headers: Headers } =
        await this.client.http.request<{ data: Record_[] }>("GET", url);
      const data = response.body?.data ?? [];
      read += data.length;
      await importChanges(this.context(Strategy.MANUAL), data, newResult(), Strategy.MANUAL, new Set());
      url = response.headers.get("Next-Page");
    }
  }

  /** The records with local changes not yet on the server (deletions included). */
  async pending(): Promise<StoredRecord[]> {
    return (await this.store.listPending()).map(publicRecord);
  }

  /**
   * Settle a conflict a `manual` sync returned: `resolution` becomes the local record, based on
   * the server's version, and the next sync pushes it (pass `conflict.remote` to take the server's).
   */
  async resolve(conflict: Conflict, resolution: Record<string, unknown> | null): Promise<StoredRecord | null> {
    const id = conflict.local.id;
    const remote = conflict.remote;
    let written: LocalRecord | null = null;
    await this.store.apply([id], (_id, current) => {
      const rev = (current?._rev ?? 0) + 1;
      if (resolution === null) {
        written = null;
        return remote ? { ...fieldsOf(remote), id, last_modified: remote.last_modified, _status: "deleted", _rev: rev } : null;
      }
      if (remote && resolution === remote) return (written = synced(remote, rev));
      written = {
        ...fieldsOf(resolution), id, last_modified: remote?.last_modified,
        _status: remote ? "updated" : "created", _rev: rev,
      };
      return written;
    });
    return written && publicRecord(written);
  }

  /**
   * Pull the server's changes, push the local ones, settle conflicts by `strategy` (the
   * resource's, else the client's; `manual` by default). Syncs of one resource run one at a time.
   */
  sync(options: SyncOptions = {}): Promise<SyncResult> {
    const run = this.syncing.then(() => this.syncOnce(options));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private async syncOnce({ strategy, force = false }: SyncOptions): Promise<SyncResult> {
    const http = this.client.http;
    http.checkBackoff(force);
    const chosen = strategy ?? this.options.strategy ?? this.client.strategy;
    const info = await this.client.serverInfo();
    const batchMax = Number(info.settings?.batch_max_requests) || 25;
    const ctx = this.context(chosen, Math.max(1, batchMax));
    const result = newResult();
    const conflicted = new Set<string>();
    const since = (await this.store.getMeta(TIMESTAMP)) as number | undefined;
    let timestamp = await pull(ctx, since, result, conflicted);
    if (chosen !== Strategy.PULL_ONLY) {
      // Twice at most: client-wins conflicts are pushed again, rebased on the server's version.
      for (let round = 0; round < 2; round++) {
        const pending = (await this.store.listPending()).filter((r) => !conflicted.has(r.id));
        if (pending.length === 0) break;
        const again = await push(ctx, pending, result);
        if (again === 0) break;
      }
      if (result.counts.published > 0) timestamp = await pull(ctx, timestamp, result, conflicted);
    }
    result.ok = result.conflicts.length === 0 && result.errors.length === 0;
    if (result.ok && timestamp !== undefined) await this.store.setMeta(TIMESTAMP, timestamp);
    result.lastModified = ((await this.store.getMeta(TIMESTAMP)) as number | undefined) ?? undefined;
    return result;
  }

  /** The timestamp of the last sync (undefined before the first). */
  async lastModified(): Promise<number | undefined> {
    return (await this.store.getMeta(TIMESTAMP)) as number | undefined;
  }

  /** Forget every local record and the sync timestamp. */
  clear(): Promise<void> {
    return this.store.clear();
  }
}
