/** What the client tells the application about, beside the results of its calls. */
export interface ClientEvents {
  /** The server sent an `Alert` header (end of service soon, for instance). */
  alert: { code?: string; message?: string; url?: string; [key: string]: unknown };
  /** The server sent a `Backoff` header: no sync before `until` (epoch ms) unless forced. */
  backoff: { seconds: number; until: number };
  /** A 503 with `Retry-After`: the request is sent again after `seconds`. */
  retry: { url: string; attempt: number; seconds: number };
}

type Listener<T> = (payload: T) => void;

/** A minimal typed event emitter (no dependency, the same in Node and browsers). */
export class Emitter<Events extends object> {
  private listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (e) {
        // A failing listener must not break the request that emitted.
        console.error(e);
      }
    }
  }
}
