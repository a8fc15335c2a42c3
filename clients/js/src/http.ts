import { BackoffError, NetworkError, ServerError } from "./errors.js";
import type { ClientEvents, Emitter } from "./events.js";

/** Basic auth (`{ user, password }`) or a bearer token (`{ token }`, e.g. OpenID Connect). */
export type Auth = { user: string; password: string } | { token: string; type?: string };

export interface HttpOptions {
  server: string;
  auth?: Auth;
  fetch: typeof globalThis.fetch;
  events: Emitter<ClientEvents>;
  /** How many times a 503 with `Retry-After` is retried (default 3). */
  retries: number;
  /** The longest `Retry-After` waited for, in seconds (longer: the error is returned). */
  maxRetryAfterSeconds: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function authorization(auth: Auth | undefined): string | undefined {
  if (!auth) return undefined;
  if ("token" in auth) return `${auth.type ?? "Bearer"} ${auth.token}`;
  return `Basic ${base64(`${auth.user}:${auth.password}`)}`;
}

/** The HTTP layer: auth, JSON, `Backoff`, `Alert`, and `Retry-After` on 503 (bounded). */
export class Http {
  backoffUntil = 0;

  constructor(readonly options: HttpOptions) {}

  url(path: string): string {
    if (/^https?:\/\//.test(path)) return path;
    return this.options.server.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
  }

  /** Refuse to go on while the server's `Backoff` runs (unless forced). */
  checkBackoff(force: boolean): void {
    if (!force && this.options.now() < this.backoffUntil) throw new BackoffError(this.backoffUntil);
  }

  private readHeaders(headers: Headers): void {
    const backoff = headers.get("Backoff");
    if (backoff !== null && /^\d+$/.test(backoff.trim())) {
      const seconds = Number(backoff);
      this.backoffUntil = this.options.now() + seconds * 1000;
      this.options.events.emit("backoff", { seconds, until: this.backoffUntil });
    }
    const alert = headers.get("Alert");
    if (alert) {
      let payload: ClientEvents["alert"];
      try {
        payload = JSON.parse(alert);
      } catch {
        payload = { message: alert };
      }
      this.options.events.emit("alert", payload);
    }
  }

  async request<T = unknown>(
    method: string,
    path: string,
    { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse<T>> {
    const url = this.url(path);
    const all: Record<string, string> = { Accept: "application/json", ...headers };
    const auth = authorization(this.options.auth);
    if (auth) all.Authorization = auth;
    if (body !== undefined) all["Content-Type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.options.fetch(url, {
          method,
          headers: all,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new NetworkError(`${method} ${url} failed: ${(e as Error)?.message ?? e}`, e);
      }
      this.readHeaders(response.headers);
      let parsed: unknown;
      const text = await response.text().catch((e) => {
        throw new NetworkError(`${method} ${url}: the answer was cut (${e})`, e);
      });
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (response.status === 503) {
        const retryAfter = Number(response.headers.get("Retry-After"));
        const retryable = Number.isFinite(retryAfter) && retryAfter >= 0 && response.headers.has("Retry-After");
        if (retryable && attempt < this.options.retries && retryAfter <= this.options.maxRetryAfterSeconds) {
          this.options.events.emit("retry", { url, attempt: attempt + 1, seconds: retryAfter });
          await this.options.sleep(retryAfter * 1000);
          continue;
        }
      }
      if (response.status >= 400) {
        throw new ServerError(response.status, parsed as ServerError["body"], response.headers);
      }
      return { status: response.status, headers: response.headers, body: parsed as T };
    }
  }
}
