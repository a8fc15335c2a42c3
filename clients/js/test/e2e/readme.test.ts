/** The README's ES module example, run as it is (server URL aside) against a generated service. */
import "fake-indexeddb/auto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { pointedAt, readmeExamples, repo } from "../support/readme.js";
import { startService, type Service } from "../support/service.js";

let service: Service;

beforeAll(async () => {
  service = await startService();
}, 90_000);

afterAll(async () => {
  await service?.stop();
});

it("the README's example works, with localforage as its store", async () => {
  const [esm] = readmeExamples();
  const served = join(repo, "cliquet", "static", "client", "cliquet-client.mjs");
  const code = pointedAt(esm, service.url)
    .replace(`from "cliquet-client"`, `from ${JSON.stringify(served)}`)
    + "\nexport { created, record, hellos, newest, result };\n";
  expect(code).toContain(served); // the served build, not the sources
  const dir = join(repo, "clients", "js", "test-output");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `readme-example-${Date.now()}.mjs`);
  writeFileSync(file, code);
  const example = await import(file);
  expect(example.result.ok).toBe(true);
  expect(example.result.published.map((r: { title: string }) => r.title)).toEqual(["Hello world"]);
  expect(example.hellos.map((r: { id: string }) => r.id)).toEqual([example.created.id]);
  expect(example.newest[0].id).toBe(example.created.id);
  // The last sync sent the deletion: the service has the tombstone.
  const auth = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
  const changes = await (await fetch(`${service.url}/articles?_since=0`, { headers: { Authorization: auth } })).json();
  expect(changes.data).toEqual([expect.objectContaining({ id: example.created.id, deleted: true })]);
}, 30_000);
