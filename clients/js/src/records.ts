import { compare } from "./filters.js";
import type { LocalRecord, Record_ } from "./types.js";

const META_FIELDS = new Set(["id", "last_modified", "_status", "_rev", "deleted"]);

/** The application's fields of a record: what is sent to the server as `data`. */
export function fieldsOf(record: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (!META_FIELDS.has(k) && v !== undefined) fields[k] = v;
  return fields;
}

/** Whether two records hold the same fields (ids, timestamps and local state aside). */
export function sameContent(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return compare(fieldsOf(a), fieldsOf(b)) === 0;
}

/** A record as the application sees it: `_rev` is the store's business. */
export function publicRecord(record: LocalRecord): Record_ & { _status: LocalRecord["_status"] } {
  const { _rev, ...rest } = record;
  void _rev;
  return rest;
}

/** A server's record kept as synced. */
export function synced(remote: Record_, rev: number): LocalRecord {
  return { ...fieldsOf(remote), id: remote.id, last_modified: remote.last_modified, _status: "synced", _rev: rev };
}

/** The server's copy of a record, without local state (conflicts report these). */
export function remoteView(record: Record<string, unknown>): Record_ {
  const { _rev, _status, ...rest } = record;
  void _rev;
  void _status;
  return rest as Record_;
}
