/** The server could not be reached (offline, DNS, connection refused, request blocked). */
export class NetworkError extends Error {
  override name = "NetworkError";
  constructor(message: string, readonly cause?: unknown) {
    super(message);
  }
}

/** The server answered with an error status; `body` is its JSON error (code, errno, message). */
export class ServerError extends Error {
  override name = "ServerError";
  constructor(
    readonly status: number,
    readonly body: { code?: number; errno?: number; error?: string; message?: string; details?: unknown } | undefined,
    readonly headers?: Headers,
  ) {
    super(`HTTP ${status}${body?.message ? `: ${body.message}` : ""}`);
  }
}

/** The server asked clients to back off (`Backoff` header) and the time has not passed. */
export class BackoffError extends Error {
  override name = "BackoffError";
  constructor(readonly until: number) {
    super(`The server asked to back off until ${new Date(until).toISOString()}; sync({ force: true }) ignores it`);
  }
}

/** A local operation on a record that does not exist, or already does. */
export class RecordError extends Error {
  override name = "RecordError";
  constructor(message: string, readonly id: string) {
    super(message);
  }
}
