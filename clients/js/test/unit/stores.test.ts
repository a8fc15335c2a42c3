import "fake-indexeddb/auto";
import localforage from "localforage";
import { describe, expect, it } from "vitest";
import { Client } from "../../src/client.js";
import { RecordError } from "../../src/errors.js";
import { IndexedDBAdapter } from "../../src/stores/indexeddb.js";
import { MemoryAdapter } from "../../src/stores/memory.js";
import type { StoreAdapter } from "../../src/types.js";
import { FakeServer } from "./fake-server.js";

let n = 0;
const stores: Array<[string, () => unknown]> = [
  ["memory", () => new MemoryAdapter()],
  ["indexeddb", () => new IndexedDBAdapter(`test-${++n}`)],
  ["localforage", () => localforage.createInstance({ name: `lf-${++n}` })],
];

const offline = async () => {
  throw new TypeError("offline");
};

describe.each(stores)("local CRUD and filters on the %s store", (_name, makeStore) => {
  const client = () =>
    new Client({ server: "http://nowhere.test/v1", store: makeStore(), fetch: offline, namespace: `ns${++n}` });

  it("creates, reads, updates and deletes offline", async () => {
    const articles = client().resource("/articles");
    const created = await articles.create({ title: "Hello world" });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created._status).toBe("created");
    expect(await articles.get(created.id)).toEqual({ id: created.id, title: "Hello world", _status: "created", last_modified: undefined });
    const updated = await articles.update({ ...created, title: "Hello again", body: "x" });
    expect(updated).toMatchObject({ title: "Hello again", body: "x", _status: "created" });
    const patched = await articles.update({ id: created.id, body: "y" }, { patch: true });
    expect(patched).toMatchObject({ title: "Hello again", body: "y" });
    expect(await articles.delete(created.id)).toEqual({ id: created.id, deleted: true });
    await expect(articles.get(created.id)).rejects.toBeInstanceOf(RecordError);
    expect(await articles.list()).toEqual([]);
    // the tombstone waits for the sync
    expect((await articles.pending()).map((r) => r._status)).toEqual(["deleted"]);
  });

  it("refuses what does not exist, or already does", async () => {
    const articles = client().resource("/articles");
    await articles.create({ id: "one", title: "a" });
    await expect(articles.create({ id: "one", title: "b" })).rejects.toThrow(/already exists/);
    await expect(articles.update({ id: "two", title: "b" })).rejects.toThrow(/not found/);
    await expect(articles.delete("two")).rejects.toThrow(/not found/);
    await expect(articles.update({ title: "no id" })).rejects.toThrow(/id/);
    expect((await articles.get("one")).title).toBe("a");
  });

  it("filters and sorts locally", async () => {
    const articles = client().resource("/articles");
    for (const [i, title] of ["Hello", "Hello world", "Bye"].entries()) {
      await articles.create({ id: `r${i}`, title, rank: i });
    }
    expect((await articles.filter({ title: { $eq: "Hello" } })).map((r) => r.id)).toEqual(["r0"]);
    expect((await articles.filter({ title: { $like: "hello" } }, { sort: "rank" })).map((r) => r.id)).toEqual(["r0", "r1"]);
    expect((await articles.filter({ rank: { $in: [0, 2] } }, { sort: "-rank" })).map((r) => r.id)).toEqual(["r2", "r0"]);
    expect((await articles.filter({ rank: { $gte: 1 }, title: { $ne: "Bye" } })).map((r) => r.id)).toEqual(["r1"]);
    expect((await articles.list({ sort: "title", limit: 2 })).map((r) => r.title)).toEqual(["Bye", "Hello"]);
    expect((await articles.filter({ missing: { $has: false } })).length).toBe(3);
  });

  it("keeps collections and namespaces apart", async () => {
    const c = client();
    await c.resource("/articles").create({ id: "x", title: "a" });
    expect(await c.resource("/comments").list()).toEqual([]);
  });

  it("syncs both ways, an edit made during the push kept pending", async () => {
    const server = new FakeServer();
    server.pageSize = 7;
    for (let i = 0; i < 20; i++) server.put(`s${i}`, { title: `server ${i}` });
    const c = new Client({ server: server.base, store: makeStore(), fetch: server.fetch, remote: false, namespace: `ns${++n}` });
    const articles = c.resource("/articles");
    await articles.create({ id: "mine", title: "v1" });
    server.beforeRequest = async (call) => {
      if (call.url === "/v1/batch") {
        server.beforeRequest = undefined;
        await articles.update({ id: "mine", title: "v2" });
      }
    };
    const result = await articles.sync();
    expect(result.ok).toBe(true);
    expect(result.counts.created).toBe(20);
    expect((await articles.list()).length).toBe(21);
    expect(await articles.get("mine")).toMatchObject({ title: "v2", _status: "updated" });
    await articles.sync();
    expect(server.records.get("mine")!.title).toBe("v2");
    expect(await articles.pending()).toEqual([]);
  });

  it("apply is all or nothing when a decision throws", async () => {
    const c = client();
    const store = c.resource("/articles").store;
    await expect(
      store.apply(["a", "b"], (id) => {
        if (id === "b") throw new Error("no");
        return { id, _status: "created", _rev: 1 };
      }),
    ).rejects.toThrow("no");
    expect(await store.list()).toEqual([]);
  });
});

describe("store option", () => {
  it("accepts localforage itself, adapters and names; refuses anything else", () => {
    const server = "http://x.test/v1";
    expect(new Client({ server, store: localforage }).adapter.constructor.name).toBe("LocalforageAdapter");
    expect(new Client({ server, store: "memory" }).adapter).toBeInstanceOf(MemoryAdapter);
    expect(new Client({ server, store: "indexeddb" }).adapter).toBeInstanceOf(IndexedDBAdapter);
    const custom: StoreAdapter = new MemoryAdapter();
    expect(new Client({ server, store: custom }).adapter).toBe(custom);
    expect(() => new Client({ server, store: {} })).toThrow(/store/);
    expect(() => new Client({ server: "api.example.com" })).toThrow(/server/);
  });
});
