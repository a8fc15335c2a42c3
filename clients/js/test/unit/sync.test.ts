import { beforeEach, describe, expect, it } from "vitest";
import { Client, type ClientOptions } from "../../src/client.js";
import { BackoffError, NetworkError, ServerError } from "../../src/errors.js";
import { MemoryAdapter } from "../../src/stores/memory.js";
import type { Store } from "../../src/types.js";
import { FakeServer } from "./fake-server.js";

let server: FakeServer;
beforeEach(() => {
  server = new FakeServer();
});

function makeClient(options: Partial<ClientOptions> = {}) {
  const client = new Client({ server: server.base, store: new MemoryAdapter(), fetch: server.fetch, remote: false, ...options });
  return { client, articles: client.resource("/articles") };
}

const batches = () => server.calls.filter((c) => c.method === "POST" && c.url === "/v1/batch");
const pulls = () => server.calls.filter((c) => c.method === "GET" && c.url.startsWith("/v1/articles"));

async function snapshot(store: Store) {
  return { records: (await store.list()).sort((a, b) => a.id.localeCompare(b.id)), ts: await store.getMeta("lastModified") };
}

describe("pull", () => {
  it("follows every Next-Page, then pulls _since the first page's ETag with tombstones", async () => {
    server.pageSize = 10;
    for (let i = 0; i < 35; i++) server.put(`r${i}`, { title: `t${i}` });
    const { articles } = makeClient();
    const first = await articles.sync();
    expect(first.ok).toBe(true);
    expect(first.counts.created).toBe(35);
    expect(pulls().length).toBe(4);
    expect(first.lastModified).toBe(server.timestamp);
    expect((await articles.list()).length).toBe(35);

    server.remove("r1");
    server.put("r2", { title: "changed" });
    const since = server.timestamp - 2;
    server.calls = [];
    const second = await articles.sync();
    expect(pulls()[0].url).toBe(`/v1/articles?_since=${since}`);
    expect(second.deleted.map((r) => r.id)).toEqual(["r1"]);
    expect(second.updated.map((r) => r.id)).toEqual(["r2"]);
    await expect(articles.get("r1")).rejects.toThrow(/not found/);
    expect((await articles.get("r2")).title).toBe("changed");
  });

  it("keeps the FIRST page's timestamp: a record written while the pages are read is pulled next time", async () => {
    server.pageSize = 5;
    for (let i = 0; i < 12; i++) server.put(`r${i}`, { title: `t${i}` });
    server.beforeRequest = (call) => {
      if (call.url.includes("_token=5")) server.put("r11", { title: "written during the walk" });
    };
    const { articles } = makeClient();
    await articles.sync();
    server.beforeRequest = undefined;
    await articles.sync();
    expect((await articles.get("r11")).title).toBe("written during the walk");
  });

  it("imports large pages in bounded chunks and bounds the result lists", async () => {
    server.pageSize = 100;
    for (let i = 0; i < 1000; i++) server.put(`r${i}`, { title: `t${i}` });
    const { articles } = makeClient({ importChunkSize: 40, resultLimit: 10 });
    const sizes: number[] = [];
    const apply = articles.store.apply.bind(articles.store);
    articles.store.apply = (ids, decide) => {
      sizes.push(ids.length);
      return apply(ids, decide);
    };
    const result = await articles.sync();
    expect(result.counts.created).toBe(1000);
    expect(result.created.length).toBe(10);
    expect(Math.max(...sizes)).toBe(40);
    expect((await articles.list()).length).toBe(1000);
  });
});

describe("push", () => {
  it("sends creates with If-None-Match: *, the rest with If-Match, in batches of batch_max_requests", async () => {
    server.batchMaxRequests = 3;
    server.put("old", { title: "old" });
    server.put("gone", { title: "gone" });
    const { articles } = makeClient();
    await articles.sync();
    for (let i = 0; i < 5; i++) await articles.create({ id: `n${i}`, title: `new ${i}` });
    await articles.update({ id: "old", title: "edited" });
    await articles.delete("gone");
    const oldTs = server.records.get("old")!.last_modified;
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(result.counts.published).toBe(7);
    expect(batches().map((b) => b.body.requests.length)).toEqual([3, 3, 1]);
    const requests = batches().flatMap((b) => b.body.requests);
    expect(requests.find((r: any) => r.path === "/articles/n0")).toMatchObject({ method: "PUT", headers: { "If-None-Match": "*" }, body: { data: { title: "new 0" } } });
    expect(requests.find((r: any) => r.path === "/articles/old")).toMatchObject({ method: "PUT", headers: { "If-Match": `"${oldTs}"` } });
    expect(requests.find((r: any) => r.path === "/articles/gone")).toMatchObject({ method: "DELETE" });
    expect(server.records.get("gone")!.deleted).toBe(true);
    expect(server.live().map((r) => r.title).sort()).toEqual(["edited", "new 0", "new 1", "new 2", "new 3", "new 4"]);
    expect(await articles.pending()).toEqual([]);
    const local = await articles.get("n0");
    expect(local).toMatchObject({ _status: "synced", last_modified: server.records.get("n0")!.last_modified });
    // the next sync has nothing to do
    server.calls = [];
    const again = await articles.sync();
    expect(again.counts).toEqual({ created: 0, updated: 0, deleted: 0, published: 0 });
    expect(batches()).toEqual([]);
  });

  it("a delete answered 404 is done; a record deleted before ever being pushed sends nothing", async () => {
    server.put("x", { title: "x" });
    const { articles } = makeClient();
    await articles.sync();
    await articles.delete("x");
    server.records.delete("x"); // purged on the server, no tombstone
    await articles.create({ id: "never", title: "n" });
    await articles.delete("never");
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(result.published).toEqual([{ id: "x", deleted: true }]);
    expect(batches().flatMap((b) => b.body.requests).map((r: any) => r.path)).toEqual(["/articles/x"]);
    expect(await articles.store.list()).toEqual([]);
  });

  it("sends only the application's fields", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "a", title: "t", _status: "synced", last_modified: 5, _rev: 9 });
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(batches()[0].body.requests[0].body).toEqual({ data: { title: "t" } });
  });
});

describe("conflicts", () => {
  async function conflicting(strategy?: ClientOptions["strategy"]) {
    server.put("c", { title: "base" });
    const { articles, client } = makeClient({ strategy });
    await articles.sync();
    await articles.update({ id: "c", title: "local" });
    server.put("c", { title: "remote" });
    return { articles, client };
  }

  it("manual (default): returned, nothing overwritten, timestamp kept; resolve() then sync pushes", async () => {
    const { articles } = await conflicting();
    const before = await articles.lastModified();
    const result = await articles.sync();
    expect(result.ok).toBe(false);
    expect(result.conflicts).toHaveLength(1);
    expect(result.conflicts[0]).toMatchObject({ type: "incoming", local: { title: "local" }, remote: { title: "remote" } });
    expect((await articles.get("c")).title).toBe("local");
    expect(server.records.get("c")!.title).toBe("remote");
    expect(batches()).toEqual([]); // the conflicted record was not pushed
    expect(await articles.lastModified()).toBe(before);
    await articles.resolve(result.conflicts[0], { ...result.conflicts[0].local, title: "merged" });
    const after = await articles.sync();
    expect(after.ok).toBe(true);
    expect(server.records.get("c")!.title).toBe("merged");
    expect((await articles.get("c"))._status).toBe("synced");
  });

  it("manual, outgoing: a 412 returns the server's details.existing", async () => {
    const { articles } = await conflicting();
    // The pull does not see the remote change (written after it): the push meets it.
    server.beforeRequest = (call) => {
      if (call.url === "/v1/batch") server.put("c", { title: "remote 2" });
    };
    server.records.get("c")!.last_modified = (await articles.lastModified())!; // hide it from _since
    const result = await articles.sync();
    expect(result.conflicts).toEqual([
      expect.objectContaining({ type: "outgoing", local: expect.objectContaining({ title: "local" }), remote: expect.objectContaining({ title: "remote 2" }) }),
    ]);
    expect((await articles.get("c")).title).toBe("local");
  });

  it("client wins: the local version ends on the server", async () => {
    const { articles } = await conflicting("client_wins");
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(result.resolved).toHaveLength(1);
    expect(server.records.get("c")!.title).toBe("local");
    expect(await articles.get("c")).toMatchObject({ title: "local", _status: "synced" });
  });

  it("client wins over an outgoing 412 too, and over a remote deletion", async () => {
    const { articles } = await conflicting("client_wins");
    server.remove("c");
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(server.records.get("c")).toMatchObject({ title: "local" });
    expect(server.records.get("c")!.deleted).toBeUndefined();
  });

  it("server wins: the server's version is kept locally", async () => {
    const { articles } = await conflicting("server_wins");
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(await articles.get("c")).toMatchObject({ title: "remote", _status: "synced" });
    expect(server.records.get("c")!.title).toBe("remote");
    expect(batches()).toEqual([]);
  });

  it("pull only: pulls, overwrites, never pushes", async () => {
    const { articles } = await conflicting();
    await articles.create({ id: "mine", title: "stays local" });
    const result = await articles.sync({ strategy: "pull_only" });
    expect(result.ok).toBe(true);
    expect((await articles.get("c")).title).toBe("remote");
    expect(batches()).toEqual([]);
    expect((await articles.get("mine"))._status).toBe("created");
  });

  it("same content on both sides is no conflict", async () => {
    server.put("c", { title: "base" });
    const { articles } = makeClient();
    await articles.sync();
    await articles.update({ id: "c", title: "same" });
    server.put("c", { title: "same" });
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect((await articles.get("c"))._status).toBe("synced");
  });
});

describe("an edit during sync (never marked synced, never lost)", () => {
  it("an edit while the push is in flight stays pending and is pushed next", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "e", title: "v1" });
    server.beforeRequest = async (call) => {
      if (call.url === "/v1/batch") {
        server.beforeRequest = undefined;
        await articles.update({ id: "e", title: "v2 (during sync)" });
      }
    };
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(server.records.get("e")!.title).toBe("v1");
    const local = await articles.get("e");
    expect(local).toMatchObject({ title: "v2 (during sync)", _status: "updated", last_modified: server.records.get("e")!.last_modified });
    const next = await articles.sync();
    expect(next.ok).toBe(true);
    expect(server.records.get("e")!.title).toBe("v2 (during sync)");
    expect((await articles.get("e"))._status).toBe("synced");
  });

  it("a delete while its creation is in flight reaches the server", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "d", title: "short-lived" });
    server.beforeRequest = async (call) => {
      if (call.url === "/v1/batch") {
        server.beforeRequest = undefined;
        await articles.delete("d");
      }
    };
    await articles.sync();
    expect(server.records.get("d")!.deleted).toBeUndefined(); // created by that push
    await articles.sync();
    expect(server.records.get("d")!.deleted).toBe(true);
    expect(await articles.store.list()).toEqual([]);
  });

  it("an edit while pages are pulled is kept over the pulled version (a conflict, not a loss)", async () => {
    server.pageSize = 2;
    for (let i = 0; i < 5; i++) server.put(`p${i}`, { title: `t${i}` });
    const { articles } = makeClient();
    await articles.sync();
    server.put("p0", { title: "remote" });
    server.beforeRequest = async (call) => {
      if (call.url.includes("_since")) {
        server.beforeRequest = undefined;
        await articles.update({ id: "p0", title: "local, during the pull" });
      }
    };
    const result = await articles.sync();
    expect(result.conflicts.map((c) => c.local.title)).toEqual(["local, during the pull"]);
    expect((await articles.get("p0")).title).toBe("local, during the pull");
  });

  it("syncs of one resource run one after the other", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "s", title: "x" });
    const [a, b] = await Promise.all([articles.sync(), articles.sync()]);
    expect(a.counts.published + b.counts.published).toBe(1);
    expect(batches().length).toBe(1);
  });
});

describe("failures", () => {
  it("offline: the sync fails with NetworkError and the store is as it was", async () => {
    server.put("a", { title: "a" });
    const { articles } = makeClient();
    await articles.sync();
    await articles.create({ id: "b", title: "b" });
    const before = await snapshot(articles.store);
    server.offline = true;
    await expect(articles.sync()).rejects.toBeInstanceOf(NetworkError);
    expect(await snapshot(articles.store)).toEqual(before);
  });

  it("a connection lost mid-pull leaves the store as it was; the next sync converges", async () => {
    server.pageSize = 3;
    for (let i = 0; i < 10; i++) server.put(`r${i}`, { title: `t${i}` });
    const { articles } = makeClient();
    await articles.create({ id: "mine", title: "pending" });
    const before = await snapshot(articles.store);
    server.failAfterPages = 2;
    await expect(articles.sync()).rejects.toBeInstanceOf(NetworkError);
    expect(await snapshot(articles.store)).toEqual(before);
    expect(await articles.store.getMeta("pull:page:0")).toBeNull(); // the staged pages are gone
    expect(await articles.lastModified()).toBeUndefined();
    expect((await articles.get("mine"))._status).toBe("created");
    expect(server.records.has("mine")).toBe(false);
    server.failAfterPages = undefined;
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect((await articles.list()).length).toBe(11);
    expect(server.live().length).toBe(11);
  });

  it("a server error mid-pull (after the retries) leaves the store as it was", async () => {
    server.pageSize = 2;
    for (let i = 0; i < 5; i++) server.put(`r${i}`, { title: `t${i}` });
    const { articles } = makeClient({ retries: 0 });
    const before = await snapshot(articles.store);
    server.beforeRequest = (call) => {
      if (call.url.includes("_token=2")) server.failures.push({ status: 503, headers: { "Retry-After": "1" } });
    };
    await expect(articles.sync()).rejects.toBeInstanceOf(ServerError);
    expect(await snapshot(articles.store)).toEqual(before);
    server.beforeRequest = undefined;
    expect((await articles.sync()).counts.created).toBe(5);
  });

  it("a push whose answer was lost is recognised next time, not a conflict", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "l", title: "lost answer" });
    server.beforeRequest = (call) => {
      if (call.url === "/v1/batch") server.loseNextAnswer = true;
    };
    await expect(articles.sync()).rejects.toBeInstanceOf(NetworkError);
    server.beforeRequest = undefined;
    expect(server.records.get("l")!.title).toBe("lost answer");
    expect((await articles.get("l"))._status).toBe("created");
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(await articles.get("l")).toMatchObject({ _status: "synced" });
  });

  it("an error answer of one subrequest is reported, the others go through", async () => {
    const { articles } = makeClient();
    await articles.create({ id: "good", title: "ok" });
    await articles.create({ id: "bad", title: "ok", _private: 1 });
    const result = await articles.sync();
    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([expect.objectContaining({ id: "bad", status: 400 })]);
    expect((await articles.get("good"))._status).toBe("synced");
    expect((await articles.get("bad"))._status).toBe("created");
  });
});

describe("Backoff, Retry-After, Alert", () => {
  it("Backoff: no sync before it passes unless forced", async () => {
    let now = 1_000_000;
    const { articles, client } = makeClient({ now: () => now });
    const seen: number[] = [];
    client.on("backoff", (e) => seen.push(e.seconds));
    server.headers = { Backoff: "30" };
    await articles.sync();
    expect(seen.length).toBeGreaterThan(0);
    server.headers = {};
    await expect(articles.sync()).rejects.toBeInstanceOf(BackoffError);
    server.calls = [];
    await expect(articles.sync()).rejects.toThrow(/back off/);
    expect(server.calls).toEqual([]); // not even asked
    await articles.sync({ force: true });
    now += 31_000;
    await articles.sync();
  });

  it("Retry-After on 503: waits and retries, within the bound", async () => {
    const waits: number[] = [];
    const { articles, client } = makeClient({ sleep: async (ms) => void waits.push(ms), retries: 2 });
    const retries: number[] = [];
    client.on("retry", (e) => retries.push(e.attempt));
    server.failures = [
      { status: 503, headers: { "Retry-After": "2" } },
      { status: 503, headers: { "Retry-After": "1" } },
    ];
    await articles.create({ id: "a", title: "a" });
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(waits).toEqual([2000, 1000]);
    expect(retries).toEqual([1, 2]);

    server.failures = [1, 2, 3].map(() => ({ status: 503, headers: { "Retry-After": "1" } }));
    await articles.update({ id: "a", title: "b" });
    const error = await articles.sync().catch((e) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(503);
    expect(waits.length).toBe(4); // two more waits, then it gives up

    server.failures = [{ status: 503, headers: { "Retry-After": "3600" } }];
    waits.length = 0;
    await expect(articles.sync()).rejects.toBeInstanceOf(ServerError);
    expect(waits).toEqual([]); // longer than maxRetryAfterSeconds: no wait
    expect((await articles.get("a"))._status).toBe("updated");
  });

  it("Alert: an event the application can show", async () => {
    const { articles, client } = makeClient();
    const alerts: unknown[] = [];
    client.on("alert", (a) => alerts.push(a));
    server.headers = { Alert: JSON.stringify({ code: "soft-eol", message: "Going away", url: "http://x" }) };
    await articles.sync();
    expect(alerts[0]).toEqual({ code: "soft-eol", message: "Going away", url: "http://x" });
  });
});

describe("auth and reads from the server", () => {
  it("sends basic auth and bearer tokens", async () => {
    await makeClient({ auth: { user: "alice", password: "s3cr3t é" } }).articles.sync();
    expect(server.calls[0].headers.Authorization).toBe(`Basic ${Buffer.from("alice:s3cr3t é").toString("base64")}`);
    server.calls = [];
    await makeClient({ auth: { token: "abc.def" } }).articles.sync();
    expect(server.calls[0].headers.Authorization).toBe("Bearer abc.def");
  });

  it("filter online maps onto the querystring and refreshes the store; offline it reads the store", async () => {
    server.put("h", { title: "Hello" });
    server.put("w", { title: "World" });
    const { articles } = makeClient({ remote: true });
    await articles.create({ id: "local", title: "Hello" });
    const online = await articles.filter({ title: { $eq: "Hello" } });
    expect(server.calls.at(-1)!.url).toBe("/v1/articles?title=Hello");
    expect(online.map((r) => r.id).sort()).toEqual(["h", "local"]);
    server.offline = true;
    server.put("h2", { title: "Hello" });
    const offline = await articles.filter({ title: { $eq: "Hello" } });
    expect(offline.map((r) => r.id).sort()).toEqual(["h", "local"]);
    expect((await articles.get("h")).title).toBe("Hello");
  });

  it("get of a record created here and never synced does not ask the server", async () => {
    const { articles } = makeClient({ remote: true });
    const { id } = await articles.create({ title: "local only" });
    server.calls = [];
    expect((await articles.get(id)).title).toBe("local only");
    expect(server.calls).toEqual([]);
  });

  it("get online reads the server's version; a record gone from the server goes locally", async () => {
    server.put("g", { title: "v1" });
    const { articles } = makeClient({ remote: true });
    await articles.sync();
    server.put("g", { title: "v2" });
    expect((await articles.get("g")).title).toBe("v2");
    server.records.delete("g");
    await expect(articles.get("g")).rejects.toThrow(/not found/);
    expect(await articles.store.get("g")).toBeUndefined();
  });
});
