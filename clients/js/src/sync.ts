/**
 * The sync state machine: pull the server's changes since the stored timestamp, push the local
 * ones in `/batch` requests, resolve conflicts by strategy.
 *
 * Rules that make it safe:
 * - The timestamp kept is the ETag of the *first* page of a pull: a record written while the
 *   pages are read has a later timestamp, and is pulled by the next sync.
 * - Pulled pages are staged in the store as they arrive, then imported one at a time, in chunks of
 *   at most `importChunkSize` records: memory does not grow with the collection, and a failure
 *   while the pages are read changes no record.
 * - A local record is marked synced only if its `_rev` is still the one that was sent: an edit
 *   made while the sync runs stays pending, rebased on the server's new version.
 * - The timestamp is saved only after a sync went through without unresolved conflicts or errors:
 *   after a network failure or a conflict, the next sync reads the same changes again.
 */
import type { Http } from "./http.js";
import { ServerError } from "./errors.js";
import { fieldsOf, publicRecord, remoteView, sameContent, synced } from "./records.js";
import type { Decision, LocalRecord, Record_, Store } from "./types.js";

export const Strategy = {
  MANUAL: "manual",
  CLIENT_WINS: "client_wins",
  SERVER_WINS: "server_wins",
  PULL_ONLY: "pull_only",
} as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export interface Conflict {
  /** `incoming`: found while pulling; `outgoing`: the server refused a push (412). */
  type: "incoming" | "outgoing";
  local: Record_;
  /** The server's version; `null` when the server deleted the record. */
  remote: Record_ | null;
}

export interface SyncError {
  type: "incoming" | "outgoing";
  id?: string;
  status?: number;
  error: unknown;
}

export interface SyncResult {
  /** No conflict left and no error. */
  ok: boolean;
  /** The collection timestamp stored for the next sync. */
  lastModified: number | undefined;
  /** Records pulled (the lists hold at most `resultLimit` each; `counts` has them all). */
  created: Record_[];
  updated: Record_[];
  deleted: Record_[];
  /** Local changes the server took (deletions as `{ id, deleted: true }`). */
  published: Record_[];
  /** Conflicts left to the application (`manual`), to settle with `resource.resolve()`. */
  conflicts: Conflict[];
  /** Conflicts the strategy settled. */
  resolved: Conflict[];
  errors: SyncError[];
  counts: { created: number; updated: number; deleted: number; published: number };
}

export interface SyncContext {
  http: Http;
  store: Store;
  path: string;
  strategy: Strategy;
  batchMaxRequests: number;
  importChunkSize: number;
  resultLimit: number;
}

type Outcome = "created" | "updated" | "deleted" | "conflict" | "resolved" | "skip";
type Remote = Record_ & { deleted?: boolean };

export function newResult(): SyncResult {
  return {
    ok: true, lastModified: undefined, created: [], updated: [], deleted: [], published: [],
    conflicts: [], resolved: [], errors: [], counts: { created: 0, updated: 0, deleted: 0, published: 0 },
  };
}

function add(result: SyncResult, kind: "created" | "updated" | "deleted" | "published", record: Record_, limit: number) {
  result.counts[kind]++;
  if (result[kind].length < limit) result[kind].push(record);
}

/** The local side's decision for one pulled change. */
export function importOne(
  current: LocalRecord | undefined,
  remote: Remote,
  strategy: Strategy,
): { decision: Decision; outcome: Outcome; conflict?: Conflict } {
  const tombstone = remote.deleted === true;
  if (!current) return tombstone ? { decision: undefined, outcome: "skip" } : { decision: synced(remote, 0), outcome: "created" };
  if (current._status === "synced") {
    if (tombstone) return { decision: null, outcome: "deleted" };
    if (current.last_modified !== undefined && (remote.last_modified ?? 0) <= current.last_modified) {
      return { decision: undefined, outcome: "skip" };
    }
    return { decision: synced(remote, current._rev), outcome: "updated" };
  }
  // A local change is pending.
  if (tombstone) {
    if (current._status === "deleted") return { decision: null, outcome: "deleted" };
  } else if (current.last_modified === remote.last_modified) {
    return { decision: undefined, outcome: "skip" }; // the server is where our change started from
  } else if (current._status !== "deleted" && sameContent(current, remote)) {
    return { decision: synced(remote, current._rev), outcome: "skip" }; // both sides agree
  }
  const conflict: Conflict = { type: "incoming", local: publicRecord(current), remote: tombstone ? null : remoteView(remote) };
  return settle(current, conflict.remote, strategy, conflict);
}

/** What a strategy makes of a conflict between `current` and the server's `remote`. */
function settle(
  current: LocalRecord,
  remote: Record_ | null,
  strategy: Strategy,
  conflict: Conflict,
): { decision: Decision; outcome: Outcome; conflict: Conflict } {
  if (strategy === Strategy.MANUAL) return { decision: undefined, outcome: "conflict", conflict };
  if (strategy === Strategy.CLIENT_WINS) {
    // Keep the local version, based on the server's, so that the push goes through.
    if (remote === null) {
      const decision: Decision = current._status === "deleted" ? null : { ...current, last_modified: undefined, _status: "created" };
      return { decision, outcome: "resolved", conflict };
    }
    const status = current._status === "deleted" ? "deleted" : "updated";
    return { decision: { ...current, last_modified: remote.last_modified, _status: status }, outcome: "resolved", conflict };
  }
  // server_wins, pull_only
  return { decision: remote === null ? null : synced(remote, current._rev), outcome: "resolved", conflict };
}

function etagTimestamp(headers: Headers): number | undefined {
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(headers.get("ETag")?.trim() ?? "");
  return match ? Number(match[1]) : undefined;
}

/** Import remote records into the store, in chunks, recording what happened in `result`. */
export async function importChanges(
  ctx: SyncContext,
  changes: Remote[],
  result: SyncResult,
  strategy: Strategy,
  conflicted: Set<string>,
): Promise<void> {
  for (let start = 0; start < changes.length; start += ctx.importChunkSize) {
    const chunk = changes.slice(start, start + ctx.importChunkSize);
    const byId = new Map(chunk.map((r) => [r.id, r]));
    const outcomes: Array<[Outcome, Remote, Conflict | undefined]> = [];
    await ctx.store.apply([...byId.keys()], (id, current) => {
      const remote = byId.get(id)!;
      const { decision, outcome, conflict } = importOne(current, remote, strategy);
      outcomes.push([outcome, remote, conflict]);
      return decision;
    });
    for (const [outcome, remote, conflict] of outcomes) {
      if (outcome === "created" || outcome === "updated" || outcome === "deleted") {
        add(result, outcome, remoteView(remote), ctx.resultLimit);
      } else if (outcome === "conflict") {
        result.conflicts.push(conflict!);
        conflicted.add(remote.id);
      } else if (outcome === "resolved") {
        result.resolved.push(conflict!);
        if (conflict!.remote === null) add(result, "deleted", { id: remote.id, deleted: true }, ctx.resultLimit);
        else add(result, "updated", conflict!.remote, ctx.resultLimit);
      }
    }
  }
}

const STAGED = "pull:page:";

/**
 * Pull every change since `since`, following `Next-Page`; returns the first page's timestamp.
 *
 * The pages are staged in the store's metadata as they arrive (one page in memory at a time),
 * and imported only once the last one is in: a network failure or a server error while the
 * pages are read leaves the records, and the stored timestamp, as they were.
 */
export async function pull(
  ctx: SyncContext,
  since: number | undefined,
  result: SyncResult,
  conflicted: Set<string>,
): Promise<number | undefined> {
  let url: string | null = since === undefined ? ctx.path : `${ctx.path}?_since=${since}`;
  let timestamp: number | undefined;
  let pages = 0;
  try {
    while (url) {
      const response: { body: { data: Remote[] }; headers: Headers } =
        await ctx.http.request<{ data: Remote[] }>("GET", url);
      if (pages === 0) timestamp = etagTimestamp(response.headers);
      const data = response.body?.data ?? [];
      url = response.headers.get("Next-Page");
      if (pages === 0 && !url) {
        // One page: nothing to stage.
        await importChanges(ctx, data, result, ctx.strategy, conflicted);
        return timestamp ?? since;
      }
      await ctx.store.setMeta(STAGED + pages++, data);
    }
    for (let page = 0; page < pages; page++) {
      const data = ((await ctx.store.getMeta(STAGED + page)) ?? []) as Remote[];
      await importChanges(ctx, data, result, ctx.strategy, conflicted);
    }
  } finally {
    for (let page = 0; page < pages; page++) await ctx.store.setMeta(STAGED + page, null);
  }
  return timestamp ?? since;
}

interface BatchResponse {
  status: number;
  body?: { data?: Remote; details?: { existing?: Remote } } & Record<string, unknown>;
}

function requestFor(path: string, record: LocalRecord) {
  const url = `${path}/${encodeURIComponent(record.id)}`;
  if (record._status === "deleted") {
    return { method: "DELETE", path: url, headers: { "If-Match": `"${record.last_modified}"` } };
  }
  const headers: Record<string, string> =
    record.last_modified === undefined ? { "If-None-Match": "*" } : { "If-Match": `"${record.last_modified}"` };
  return { method: "PUT", path: url, headers, body: { data: fieldsOf(record) } };
}

/** Decide the local record after the server took `sent` (answering `remote`, or nothing: deleted). */
function afterPublish(sent: LocalRecord, remote: Record_ | null): (id: string, current: LocalRecord | undefined) => Decision {
  return (_id, current) => {
    if (!current) return undefined;
    if (current._rev === sent._rev) return remote === null ? null : synced(remote, current._rev);
    // Edited while the sync ran: stays pending, on top of what the server now has.
    if (remote === null) return { ...current, last_modified: undefined, _status: current._status === "deleted" ? "deleted" : "created" };
    return { ...current, last_modified: remote.last_modified, _status: current._status === "deleted" ? "deleted" : "updated" };
  };
}

/**
 * Push the pending local changes in `/batch` requests of at most `batchMaxRequests`. Returns the
 * records to push again (a client-wins conflict, rebased on the server's version).
 */
export async function push(
  ctx: SyncContext,
  pending: LocalRecord[],
  result: SyncResult,
): Promise<number> {
  let again = 0;
  // Deleted before ever reaching the server: nothing to send.
  const local = pending.filter((r) => r._status === "deleted" && r.last_modified === undefined);
  for (const record of local) await ctx.store.apply([record.id], afterPublish(record, null));
  const toSend = pending.filter((r) => !(r._status === "deleted" && r.last_modified === undefined));
  for (let start = 0; start < toSend.length; start += ctx.batchMaxRequests) {
    const chunk = toSend.slice(start, start + ctx.batchMaxRequests);
    const response = await ctx.http.request<{ responses: BatchResponse[] }>("POST", "/batch", {
      body: { requests: chunk.map((r) => requestFor(ctx.path, r)) },
    });
    const responses = response.body?.responses ?? [];
    for (let i = 0; i < chunk.length; i++) {
      const sent = chunk[i];
      const answer = responses[i];
      const deleting = sent._status === "deleted";
      if (!answer) {
        result.errors.push({ type: "outgoing", id: sent.id, error: "no answer in the batch" });
        continue;
      }
      const remote = answer.body?.data;
      if ((answer.status === 200 || answer.status === 201) && (deleting || remote)) {
        await ctx.store.apply([sent.id], afterPublish(sent, deleting ? null : remote!));
        add(result, "published", deleting ? { id: sent.id, deleted: true } : remote!, ctx.resultLimit);
      } else if (deleting && answer.status === 404) {
        await ctx.store.apply([sent.id], afterPublish(sent, null)); // already gone: done
        add(result, "published", { id: sent.id, deleted: true }, ctx.resultLimit);
      } else if (answer.status === 412) {
        const existing = answer.body?.details?.existing;
        const exists = !!existing && existing.deleted !== true;
        if (deleting ? !exists : exists && sameContent(sent, existing)) {
          // The server already has what we meant (a previous push whose answer was lost).
          await ctx.store.apply([sent.id], afterPublish(sent, exists ? existing! : null));
          add(result, "published", exists ? remoteView(existing!) : { id: sent.id, deleted: true }, ctx.resultLimit);
          continue;
        }
        const conflict: Conflict = { type: "outgoing", local: publicRecord(sent), remote: exists ? remoteView(existing!) : null };
        if (ctx.strategy === Strategy.MANUAL) {
          result.conflicts.push(conflict);
          continue;
        }
        let outcome = "skip" as Outcome;
        await ctx.store.apply([sent.id], (_id, current) => {
          if (!current || current._rev !== sent._rev) return undefined; // edited since: next sync
          const settled = settle(current, conflict.remote, ctx.strategy, conflict);
          outcome = settled.outcome;
          return settled.decision;
        });
        if (outcome === "resolved") {
          result.resolved.push(conflict);
          if (ctx.strategy === Strategy.CLIENT_WINS) again++;
          else if (conflict.remote === null) add(result, "deleted", { id: sent.id, deleted: true }, ctx.resultLimit);
          else add(result, "updated", conflict.remote, ctx.resultLimit);
        }
      } else {
        result.errors.push({ type: "outgoing", id: sent.id, status: answer.status, error: new ServerError(answer.status, answer.body as ServerError["body"]) });
      }
    }
  }
  return again;
}
