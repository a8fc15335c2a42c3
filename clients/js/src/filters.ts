/**
 * Filters: the same query read locally (against the store) and sent to the server (querystring).
 *
 * The local rules are the server's (its reference selection): JSON values compare in one total
 * order over types (null < booleans < numbers < strings < arrays < objects); a record missing a
 * field matches only `$ne` and `$has: false`; `$like` matches strings, `*` being any run of
 * characters, a pattern without `*` meaning "contains", case ignored.
 */

export type Operator = "$eq" | "$ne" | "$in" | "$gt" | "$gte" | "$lt" | "$lte" | "$has" | "$like";
export type Condition = { [op in Operator]?: unknown };
/** `{ field: value }` (equal) or `{ field: { $op: value, ... } }`; fields may be dotted paths. */
export type Query = Record<string, unknown>;

const OPERATORS: ReadonlySet<string> = new Set(["$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte", "$has", "$like"]);

const MISSING = Symbol("missing");

/** The conditions of a query, checked once: an unknown operator is refused up front. */
export function parseQuery(query: Query): Array<[string, Operator, unknown]> {
  const parsed: Array<[string, Operator, unknown]> = [];
  for (const [field, spec] of Object.entries(query)) {
    const isCondition =
      spec !== null && typeof spec === "object" && !Array.isArray(spec) &&
      Object.keys(spec).length > 0 && Object.keys(spec).every((k) => k.startsWith("$"));
    if (!isCondition) {
      parsed.push([field, "$eq", spec]);
      continue;
    }
    for (const [op, value] of Object.entries(spec as Record<string, unknown>)) {
      if (!OPERATORS.has(op)) throw new TypeError(`Unknown filter operator ${op} on ${field}`);
      if (op === "$in" && !Array.isArray(value)) throw new TypeError(`$in on ${field} needs an array`);
      if (op === "$like" && typeof value !== "string") throw new TypeError(`$like on ${field} needs a string`);
      if (op === "$has" && typeof value !== "boolean") throw new TypeError(`$has on ${field} needs a boolean`);
      parsed.push([field, op as Operator, value]);
    }
  }
  return parsed;
}

function extract(record: Record<string, unknown>, path: string): unknown {
  if (Object.prototype.hasOwnProperty.call(record, path)) return record[path];
  let value: unknown = record;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return MISSING;
    if (!Object.prototype.hasOwnProperty.call(value, part)) return MISSING;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function rank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === "boolean") return 1;
  if (typeof value === "number") return 2;
  if (typeof value === "string") return 3;
  if (Array.isArray(value)) return 4;
  return 5;
}

/** Compare two JSON values in the server's total order: negative, zero or positive. */
export function compare(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3: {
      // Code point order (JavaScript compares UTF-16 units, which differ past the BMP).
      const ca = Array.from(a as string);
      const cb = Array.from(b as string);
      for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
        const d = ca[i].codePointAt(0)! - cb[i].codePointAt(0)!;
        if (d !== 0) return d;
      }
      return ca.length - cb.length;
    }
    case 4: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const d = compare(xa[i], xb[i]);
        if (d !== 0) return d;
      }
      return xa.length - xb.length;
    }
    default: {
      const ka = Object.keys(a as object).sort();
      const kb = Object.keys(b as object).sort();
      const d = compare(ka, kb);
      if (d !== 0) return d;
      for (const k of ka) {
        const dv = compare((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
        if (dv !== 0) return dv;
      }
      return 0;
    }
  }
}

const likeCache = new Map<string, RegExp>();

/** Whether `value` matches the `$like` pattern (`*` wildcard; none: "contains"; no case). */
export function like(value: string, pattern: string): boolean {
  let regex = likeCache.get(pattern);
  if (!regex) {
    const full = pattern.includes("*") ? pattern : `*${pattern}*`;
    const body = full.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    regex = new RegExp(`^${body}$`, "isu");
    if (likeCache.size > 256) likeCache.clear();
    likeCache.set(pattern, regex);
  }
  return regex.test(value);
}

function holds(value: unknown, op: Operator, expected: unknown): boolean {
  if (op === "$has") {
    const present = value !== MISSING && value !== null && value !== undefined;
    return present === expected;
  }
  if (value === MISSING || value === undefined) return op === "$ne";
  switch (op) {
    case "$like":
      return typeof value === "string" && like(value, expected as string);
    case "$in":
      return (expected as unknown[]).some((v) => compare(value, v) === 0);
    case "$eq":
      return compare(value, expected) === 0;
    case "$ne":
      return compare(value, expected) !== 0;
    case "$gt":
      return compare(value, expected) > 0;
    case "$gte":
      return compare(value, expected) >= 0;
    case "$lt":
      return compare(value, expected) < 0;
    default:
      return compare(value, expected) <= 0;
  }
}

/** A predicate keeping the records that satisfy every condition of `query`. */
export function matcher(query: Query): (record: Record<string, unknown>) => boolean {
  const conditions = parseQuery(query);
  return (record) => conditions.every(([field, op, expected]) => holds(extract(record, field), op, expected));
}

/** Sort records in place by `_sort`-like keys ("-last_modified,title"). */
export function sortRecords<T extends Record<string, unknown>>(records: T[], sort: string | undefined): T[] {
  const keys = (sort || "-last_modified").split(",").map((k) => k.trim()).filter(Boolean)
    .map((k) => (k.startsWith("-") ? { field: k.slice(1), dir: -1 } : { field: k.replace(/^\+/, ""), dir: 1 }));
  records.sort((a, b) => {
    for (const { field, dir } of keys) {
      const va = extract(a, field);
      const vb = extract(b, field);
      // Missing sorts as null; records not yet on the server have no last_modified.
      const d = compare(va === MISSING ? null : va, vb === MISSING ? null : vb);
      if (d !== 0) return d * dir;
    }
    return 0;
  });
  return records;
}

const PREFIX: Record<Operator, string> = {
  $eq: "", $ne: "not_", $in: "in_", $gt: "gt_", $gte: "min_", $lt: "lt_", $lte: "max_", $has: "has_", $like: "like_",
};

/** A value as the server reads it: JSON where the text would parse as JSON, else the text. */
function encodeValue(value: unknown): string | undefined {
  if (typeof value === "string") {
    try {
      JSON.parse(value);
      return JSON.stringify(value); // "123" must stay a string, not become 123
    } catch {
      return value;
    }
  }
  if (value === null || typeof value === "boolean" || typeof value === "number") return JSON.stringify(value);
  return undefined; // arrays and objects: filtered locally only
}

/**
 * The querystring parameters the server filters by, for the conditions it can express.
 *
 * A condition it cannot express exactly (an `$in` value holding a comma, an array or object
 * operand) is left out: the server then returns more, never less, and the local filter, which
 * always runs on the answer, decides.
 */
export function toQuerystring(query: Query): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  for (const [field, op, value] of parseQuery(query)) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/.test(field)) continue;
    let text: string | undefined;
    if (op === "$in") {
      const parts = (value as unknown[]).map(encodeValue);
      if (parts.length === 0 || parts.some((p) => p === undefined || p.includes(","))) continue;
      text = parts.join(",");
    } else if (op === "$has") {
      text = value ? "true" : "false";
    } else if (op === "$like") {
      text = value as string;
    } else {
      text = encodeValue(value);
    }
    if (text === undefined) continue;
    params.push([PREFIX[op] + field, text]);
  }
  return params;
}
