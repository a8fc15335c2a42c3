/** A record as the application sees it: its fields, `id`, and the server's `last_modified`. */
export interface Record_ {
  id: string;
  last_modified?: number;
  [field: string]: unknown;
}

/** Where a local record stands with respect to the server. */
export type Status = "created" | "updated" | "deleted" | "synced";

/**
 * A record as a store keeps it: the application's fields plus `_status` and `_rev`.
 *
 * `_rev` grows by one at every local write; a sync marks a record synced only if its `_rev` is
 * still the one that was sent, so that an edit made while a sync runs is never lost.
 */
export interface LocalRecord extends Record_ {
  _status: Status;
  _rev: number;
}

/**
 * What a store's `apply` decides for one id: the record to write, `null` to remove it, or
 * `undefined` to leave it as it is.
 */
export type Decision = LocalRecord | null | undefined;

/** One collection's local records and metadata (the sync timestamp). */
export interface Store {
  get(id: string): Promise<LocalRecord | undefined>;
  /** Every record, tombstones of local deletions included. */
  list(): Promise<LocalRecord[]>;
  /** The records with local changes not yet on the server. */
  listPending(): Promise<LocalRecord[]>;
  /**
   * Read, decide and write `ids` as one atomic step: `decide` is called synchronously for each
   * id with the current record, and nothing is written if it throws.
   */
  apply(ids: string[], decide: (id: string, current: LocalRecord | undefined) => Decision): Promise<void>;
  getMeta(key: string): Promise<unknown>;
  setMeta(key: string, value: unknown): Promise<void>;
  /** Remove every record and metadata. */
  clear(): Promise<void>;
}

/** Opens a store per collection name. */
export interface StoreAdapter {
  open(name: string): Store;
}
