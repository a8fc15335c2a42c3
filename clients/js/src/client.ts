import { Emitter, type ClientEvents } from "./events.js";
import { Http, type Auth } from "./http.js";
import { Resource } from "./resource.js";
import { IndexedDBAdapter } from "./stores/indexeddb.js";
import { isLocalforage, LocalforageAdapter } from "./stores/localforage.js";
import { MemoryAdapter } from "./stores/memory.js";
import { Strategy } from "./sync.js";
import type { StoreAdapter } from "./types.js";

export interface ClientOptions {
  /** The service's root URL, with its version prefix: `https://api.example.com/v1`. */
  server: string;
  /**
   * Where records are kept: a localforage instance, a {@link StoreAdapter}, `"memory"` or
   * `"indexeddb"`. Default: IndexedDB where there is one, else memory.
   */
  store?: unknown;
  auth?: Auth;
  /** Default conflict strategy of `sync()` (`manual`). */
  strategy?: Strategy;
  /** Whether reads ask the server first when it can be reached (default `true`). */
  remote?: boolean;
  /** Keeps apart the local data of several users or apps on one server (part of store names). */
  namespace?: string;
  /** How many 503 answers with `Retry-After` are retried (default 3). */
  retries?: number;
  /** The longest `Retry-After` waited for, in seconds (default 60). */
  maxRetryAfterSeconds?: number;
  /** Records imported per store write while pulling (default 200). */
  importChunkSize?: number;
  /** The most records each list of a sync result holds (default 1000; `counts` has all). */
  resultLimit?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** For tests: the clock and the wait between retries. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ServerInfo {
  project_name?: string;
  http_api_version?: string;
  settings?: { batch_max_requests?: number; readonly?: boolean };
  capabilities?: Record<string, unknown>;
  user?: { id: string };
  [key: string]: unknown;
}

function adapterFor(store: unknown): StoreAdapter {
  if (store === undefined) {
    return typeof globalThis.indexedDB !== "undefined" ? new IndexedDBAdapter() : new MemoryAdapter();
  }
  if (store === "memory") return new MemoryAdapter();
  if (store === "indexeddb") return new IndexedDBAdapter();
  if (store && typeof (store as StoreAdapter).open === "function") return store as StoreAdapter;
  if (isLocalforage(store)) return new LocalforageAdapter(store);
  throw new TypeError("store: a localforage instance, a StoreAdapter, \"memory\" or \"indexeddb\"");
}

/** A cliquet service seen from an application: resources kept locally and synced. */
export class Client {
  readonly events = new Emitter<ClientEvents>();
  readonly http: Http;
  readonly adapter: StoreAdapter;
  readonly strategy: Strategy;
  readonly remoteReads: boolean;
  readonly importChunkSize: number;
  readonly resultLimit: number;
  private readonly namespace: string;
  private info: Promise<ServerInfo> | undefined;
  private resources = new Map<string, Resource>();

  constructor(options: ClientOptions) {
    if (!options || typeof options.server !== "string" || !/^https?:\/\//.test(options.server)) {
      throw new TypeError("server: the service's URL, such as https://api.example.com/v1");
    }
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!fetchImpl) throw new TypeError("No fetch here: pass one as the fetch option");
    const strategies = Object.values(Strategy) as string[];
    if (options.strategy !== undefined && !strategies.includes(options.strategy)) {
      throw new TypeError(`strategy: one of ${strategies.join(", ")}`);
    }
    this.adapter = adapterFor(options.store);
    this.strategy = options.strategy ?? Strategy.MANUAL;
    this.remoteReads = options.remote ?? true;
    this.importChunkSize = Math.max(1, options.importChunkSize ?? 200);
    this.resultLimit = Math.max(0, options.resultLimit ?? 1000);
    this.namespace = options.namespace ?? "";
    this.http = new Http({
      server: options.server.replace(/\/+$/, ""),
      auth: options.auth,
      fetch: fetchImpl,
      events: this.events,
      retries: options.retries ?? 3,
      maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 60,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    });
  }

  /** Listen to `alert`, `backoff` or `retry`; returns the function that stops listening. */
  on<K extends keyof ClientEvents>(name: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.events.on(name, listener);
  }

  /** The name of a collection's local store: server, namespace and path. */
  storeName(path: string): string {
    return `${this.http.options.server}${this.namespace ? `#${this.namespace}` : ""}${path}`;
  }

  /** The resource at `path` (`"/articles"`); the same object for the same path. */
  resource(path: string, options: { strategy?: Strategy } = {}): Resource {
    let resource = this.resources.get(path);
    if (!resource) {
      resource = new Resource(this, path, options);
      this.resources.set(path, resource);
    }
    return resource;
  }

  /** The hello view (`GET /`), read once: its `settings.batch_max_requests` sizes the pushes. */
  serverInfo(): Promise<ServerInfo> {
    if (!this.info) {
      this.info = this.http.request<ServerInfo>("GET", "/").then((r) => r.body ?? {});
      this.info.catch(() => (this.info = undefined));
    }
    return this.info;
  }

  /** When the server's last `Backoff` ends (epoch ms; 0 or past: none). */
  get backoffUntil(): number {
    return this.http.backoffUntil;
  }
}
