/**
 * Headless Chromium against a generated service: the demo page (/v1/__demo__/) writes a record
 * while its requests are blocked, syncs once they go through, and a second page sees it.
 * Screenshots go to test-output/ (not committed; CI keeps them).
 */
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointedAt, readmeExamples } from "../support/readme.js";
import { startService, type Service } from "../support/service.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const output = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-output");

let service: Service;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(output, { recursive: true });
  // Small pages: the cross-origin test reads several through Next-Page.
  service = await startService({ "cliquet.paginate_by": "5" });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

async function openDemo(): Promise<Page> {
  // A context of its own: its own IndexedDB, as another browser would have.
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${service.url}/__demo__/`);
  await page.waitForSelector("body[data-ready=true]");
  expect(errors).toEqual([]);
  return page;
}

const titles = (page: Page) => page.$$eval("#articles li .title", (els) => els.map((e) => e.textContent));

describe("the demo page in headless Chromium", () => {
  it("creates a record offline, syncs it online, and a second page sees it", async () => {
    const first = await openDemo();
    const hello = await first.evaluate(async () => (await fetch("../")).json());
    expect(hello.capabilities.client.url).toBe("/v1/__client__/");

    // Offline: every request to the service is blocked.
    let blocked = 0;
    await first.route(`${service.url}/**`, (route) => {
      blocked++;
      return route.abort("internetdisconnected");
    });
    await first.fill("#title", "Written offline");
    await first.fill("#body", "in headless Chromium");
    await first.click("#create");
    await first.waitForSelector("#articles li .status.created");
    expect(await titles(first)).toEqual(["Written offline"]);
    await first.click("#sync");
    await first.waitForFunction(() => document.querySelector("#result")!.textContent!.startsWith("Not synced"));
    expect(blocked).toBeGreaterThan(0);
    expect(await first.textContent("#status")).toContain("1 changes to sync");
    await first.screenshot({ path: join(output, "demo-offline.png"), fullPage: true });

    // Online again: the sync sends it.
    await first.unroute(`${service.url}/**`);
    await first.click("#sync");
    await first.waitForFunction(() => document.querySelector("#result")!.textContent!.startsWith("Synced:"));
    expect(await first.textContent("#result")).toContain("1 sent");
    await first.waitForSelector("#articles li .status.synced");
    expect(await first.textContent("#status")).toContain("0 changes to sync");

    // Another browser of the same user (the page's default account) pulls it.
    const second = await openDemo();
    expect(await titles(second)).toEqual([]);
    await second.click("#sync");
    await second.waitForFunction(() => document.querySelector("#result")!.textContent!.startsWith("Synced:"));
    expect(await titles(second)).toEqual(["Written offline"]);
    expect(await second.textContent("#articles li .body")).toBe("in headless Chromium");
    await second.screenshot({ path: join(output, "demo-second-page.png"), fullPage: true });

    // What the server holds, asked directly.
    const auth = `Basic ${Buffer.from("demo:demo-password").toString("base64")}`;
    const listed = await (await fetch(`${service.url}/articles`, { headers: { Authorization: auth } })).json();
    expect(listed.data.map((r: { title: string }) => r.title)).toEqual(["Written offline"]);
  }, 60_000);

  it("runs the seed's example with the served IIFE build and localforage", async () => {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // Network errors (the favicon's 404) are logged too: only the page's own errors count.
    page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
    await page.goto(`${service.url}/__client__/`);
    await page.addScriptTag({ url: `${service.url}/__client__/cliquet-client.js` });
    await page.addScriptTag({ path: join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules", "localforage", "dist", "localforage.js") });
    const example = pointedAt(readmeExamples()[1], service.url);
    // The example's promise chain, awaited here.
    const code = example.replace("articles.create(", "window.exampleDone = articles.create(");
    expect(code).not.toBe(example);
    await page.evaluate(`${code}\nwindow.exampleDone`);
    expect(errors).toEqual([]);
    const auth = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
    const listed = await (await fetch(`${service.url}/articles`, { headers: { Authorization: auth } })).json();
    expect(listed.data.map((r: { title: string }) => r.title)).toEqual(["Hello world"]);
    // localforage (IndexedDB in this page) holds it, synced.
    const stored = await page.evaluate(async () => {
      const w = window as unknown as { cliquet: any; localforage: any };
      const c = new w.cliquet.Client({ server: location.origin + "/v1", store: w.localforage, remote: false });
      return c.resource("/articles").list();
    });
    expect(stored).toEqual([expect.objectContaining({ title: "Hello world", _status: "synced" })]);
  }, 60_000);

  it("works from a page of another origin (CORS: preflights, ETag and Next-Page exposed)", async () => {
    // The application's page, served by a server of its own: another origin (another port).
    const app = createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/html" });
      response.end(`<!doctype html><script src="${service.url}/__client__/cliquet-client.js"></script>`);
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${appOrigin}/`);
    const outcome = await page.evaluate(async (server) => {
      const { Client } = (window as unknown as { cliquet: any }).cliquet;
      const auth = { user: "cors", password: "elsewhere" };
      const writer = new Client({ server, auth, store: "memory", remote: false }).resource("/articles");
      for (let i = 0; i < 12; i++) await writer.create({ title: `from another origin ${i}` });
      const pushed = await writer.sync();
      const reader = new Client({ server, auth, store: "memory", remote: false }).resource("/articles");
      const pulled = await reader.sync();
      return {
        origin: location.origin, pushed: pushed.counts.published, pulled: pulled.counts.created,
        ok: pushed.ok && pulled.ok, same: pulled.lastModified === pushed.lastModified,
      };
    }, service.url);
    app.close();
    expect(outcome).toEqual({ origin: appOrigin, pushed: 12, pulled: 12, ok: true, same: true });
  }, 60_000);
  it("shows a record of markup as text: nothing of it runs (no XSS)", async () => {
    // Written by another client of the same account, straight to the server.
    const account = { user: "markup", password: "markup-password" };
    const hostile = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;
    const auth = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString("base64")}`;
    const created = await fetch(`${service.url}/articles`, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ data: { title: hostile, body: "<b onmouseover=alert(1)>b</b>" } }),
    });
    expect(created.status).toBe(201);
    const page = await openDemo();
    page.on("dialog", (dialog) => { throw new Error(`a dialog opened: ${dialog.message()}`); });
    await page.fill("#login input[name=user]", account.user);
    await page.fill("#login input[name=password]", account.password);
    await page.click("#login button");
    await page.click("#sync");
    await page.waitForFunction(
      (title) => [...document.querySelectorAll("#articles li .title")].some((e) => e.textContent === title),
      hostile,
    );
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.$$("#articles img, #articles script, #articles b")).toEqual([]);
    expect(await page.textContent("#articles li .body")).toBe("<b onmouseover=alert(1)>b</b>");
  }, 60_000);
});
