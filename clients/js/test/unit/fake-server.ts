/**
 * A fake cliquet service in memory, speaking the protocol subset the client uses (hello, lists
 * with `_since` and `Next-Page`, records with preconditions, `/batch`), as a `fetch`.
 * Tests steer it: `offline`, `failures` (answers given first: 503 with Retry-After...), `loseNextAnswer`, `headers` added to every answer,
 * `beforeRequest` (to edit locally in the middle of a sync), `pageSize`.
 */
type Rec = { id: string; last_modified: number; deleted?: boolean; [k: string]: unknown };

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: any;
}

export class FakeServer {
  records = new Map<string, Rec>();
  timestamp = 1000;
  pageSize = 100;
  batchMaxRequests = 25;
  offline = false;
  /** Answers to give before the normal ones (status, headers, body). */
  failures: Array<{ status: number; headers?: Record<string, string>; body?: unknown }> = [];
  headers: Record<string, string> = {};
  calls: Call[] = [];
  beforeRequest?: (call: Call) => void | Promise<void>;
  /** Drop the connection after reading this many pages in a row (network failure mid-pull). */
  failAfterPages?: number;
  private pagesServed = 0;

  readonly base = "http://fake.test/v1";

  private bump(): number {
    this.timestamp += 1;
    return this.timestamp;
  }

  /** Write a record on the server side (as another client would). */
  put(id: string, fields: Record<string, unknown>): Rec {
    const record = { ...fields, id, last_modified: this.bump() };
    this.records.set(id, record);
    return record;
  }

  remove(id: string): void {
    this.records.set(id, { id, last_modified: this.bump(), deleted: true });
  }

  live(): Rec[] {
    return [...this.records.values()].filter((r) => !r.deleted);
  }

  /** Apply the next request, then drop the connection before the answer (a lost answer). */
  loseNextAnswer = false;

  fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const response = await this.answer(input, init);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new TypeError("connection reset after the request was applied");
    }
    return response;
  };

  private answer = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers = Object.fromEntries(Object.entries((init.headers as Record<string, string>) ?? {}));
    const call: Call = { method: init.method ?? "GET", url: url.pathname + url.search, headers, body: init.body ? JSON.parse(String(init.body)) : undefined };
    this.calls.push(call);
    if (this.beforeRequest) await this.beforeRequest(call);
    if (this.offline) throw new TypeError("fetch failed");
    const failure = this.failures.shift();
    if (failure) return this.respond(failure.status, failure.body ?? { code: failure.status, errno: 201, message: "down" }, failure.headers);
    const path = url.pathname.replace(/^\/v1/, "");
    if (path === "/" && call.method === "GET") {
      return this.respond(200, { project_name: "fake", settings: { batch_max_requests: this.batchMaxRequests, readonly: false }, capabilities: {} });
    }
    if (path === "/batch" && call.method === "POST") {
      const requests = call.body.requests as Array<{ method: string; path: string; headers?: Record<string, string>; body?: any }>;
      if (requests.length > this.batchMaxRequests) return this.respond(400, { code: 400, errno: 107, message: "too many" });
      const responses = requests.map((r) => {
        const { status, body } = this.handle(r.method, r.path.replace(/^\/v1/, ""), new URLSearchParams(), r.headers ?? {}, r.body);
        return { status, path: r.path, headers: {}, body };
      });
      return this.respond(200, { responses });
    }
    const { status, body, extra } = this.handle(call.method, path, url.searchParams, headers, call.body);
    return this.respond(status, body, extra);
  };

  private respond(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...this.headers, ...headers } });
  }

  private error(status: number, errno: number, details?: unknown) {
    return { status, body: { code: status, errno, error: "error", message: `error ${errno}`, details } };
  }

  handle(method: string, path: string, query: URLSearchParams, headers: Record<string, string>, body: any):
    { status: number; body: any; extra?: Record<string, string> } {
    const list = /^\/articles$/.exec(path);
    if (list && method === "GET") {
      if (this.failAfterPages !== undefined && this.pagesServed++ >= this.failAfterPages) {
        throw new TypeError("connection reset");
      }
      const since = query.get("_since");
      const offset = Number(query.get("_token") ?? 0);
      let records = [...this.records.values()].sort((a, b) => b.last_modified - a.last_modified);
      if (since !== null) records = records.filter((r) => r.last_modified > Number(since));
      else records = records.filter((r) => !r.deleted);
      for (const [key, value] of query) {
        if (key.startsWith("_")) continue;
        records = records.filter((r) => String(r[key]) === value);
      }
      const limit = Math.min(Number(query.get("_limit") ?? this.pageSize), this.pageSize);
      const page = records.slice(offset, offset + limit);
      const extra: Record<string, string> = { ETag: `"${this.timestamp}"` };
      if (offset + limit < records.length) {
        const next = new URLSearchParams(query);
        next.set("_token", String(offset + limit));
        extra["Next-Page"] = `${this.base}/articles?${next}`;
      }
      return { status: 200, body: { data: page }, extra };
    }
    const one = /^\/articles\/([^/]+)$/.exec(path);
    if (!one) return this.error(404, 111);
    const id = decodeURIComponent(one[1]);
    const current = this.records.get(id);
    const live = current && !current.deleted ? current : undefined;
    const ifMatch = headers["If-Match"];
    const ifNoneMatch = headers["If-None-Match"];
    if (method === "GET") {
      return live ? { status: 200, body: { data: live }, extra: { ETag: `"${live.last_modified}"` } } : this.error(404, 110);
    }
    if (ifNoneMatch === "*" && live) return this.error(412, 114, { existing: live });
    if (ifMatch !== undefined && (!live || ifMatch !== `"${live.last_modified}"`)) {
      return this.error(412, 114, live ? { existing: live } : undefined);
    }
    if (method === "PUT") {
      if (!body || typeof body.data !== "object") return this.error(400, 109);
      if (Object.keys(body.data).some((k) => k.startsWith("_") || k === "last_modified")) return this.error(400, 107);
      const record = this.put(id, body.data);
      return { status: live ? 200 : 201, body: { data: record } };
    }
    if (method === "DELETE") {
      if (!live) return this.error(404, 110);
      this.remove(id);
      return { status: 200, body: { data: this.records.get(id) } };
    }
    return this.error(405, 115);
  }
}
