import { describe, expect, it } from "vitest";
import { matcher, toQuerystring } from "../../src/filters.js";

const records = [
  { id: "a", title: "Hello world", n: 1, tags: ["x"], meta: { lang: "en" } },
  { id: "b", title: "hello again", n: 2, flag: null },
  { id: "c", title: "Bye", n: 3, flag: true },
  { id: "d", n: "3" },
];

const ids = (query: Record<string, unknown>) => records.filter(matcher(query)).map((r) => r.id);

describe("local filters", () => {
  it("$eq, bare values and dotted fields", () => {
    expect(ids({ title: { $eq: "Bye" } })).toEqual(["c"]);
    expect(ids({ n: 2 })).toEqual(["b"]);
    expect(ids({ "meta.lang": "en" })).toEqual(["a"]);
    // a number is not a string: JSON types compare apart, as on the server
    expect(ids({ n: 3 })).toEqual(["c"]);
  });

  it("$ne keeps records missing the field", () => {
    expect(ids({ title: { $ne: "Bye" } })).toEqual(["a", "b", "d"]);
  });

  it("$in", () => {
    expect(ids({ n: { $in: [1, 3] } })).toEqual(["a", "c"]);
    expect(ids({ n: { $in: [] } })).toEqual([]);
  });

  it("$gt $gte $lt $lte in the server's total order (numbers before strings)", () => {
    expect(ids({ n: { $gt: 1 } })).toEqual(["b", "c", "d"]);
    expect(ids({ n: { $gte: 2, $lt: 3 } })).toEqual(["b"]);
    expect(ids({ n: { $lte: 2 } })).toEqual(["a", "b"]);
    expect(ids({ title: { $lt: "Hello" } })).toEqual(["c"]);
  });

  it("$has: null and missing are absent", () => {
    expect(ids({ flag: { $has: true } })).toEqual(["c"]);
    expect(ids({ flag: { $has: false } })).toEqual(["a", "b", "d"]);
  });

  it("$like: wildcards, contains, no case", () => {
    expect(ids({ title: { $like: "hello*" } })).toEqual(["a", "b"]);
    expect(ids({ title: { $like: "WORLD" } })).toEqual(["a"]);
    expect(ids({ title: { $like: "*e" } })).toEqual(["c"]);
    expect(ids({ title: { $like: "h.llo" } })).toEqual([]); // no regex leaks
    expect(ids({ n: { $like: "1" } })).toEqual([]); // strings only
  });

  it("refuses unknown operators and bad operands", () => {
    expect(() => matcher({ n: { $regex: "x" } })).toThrow(/Unknown filter operator/);
    expect(() => matcher({ n: { $in: 3 } })).toThrow(/array/);
    expect(() => matcher({ n: { $has: "yes" } })).toThrow(/boolean/);
  });
});

describe("querystring mapping", () => {
  it("maps every operator onto the server's prefixes", () => {
    expect(
      toQuerystring({
        title: { $eq: "Hello" }, a: { $ne: 1 }, b: { $in: ["x", "y"] }, c: { $gt: 1 }, d: { $gte: 2 },
        e: { $lt: 3 }, f: { $lte: 4 }, g: { $has: false }, h: { $like: "*ab*" },
      }),
    ).toEqual([
      ["title", "Hello"], ["not_a", "1"], ["in_b", "x,y"], ["gt_c", "1"], ["min_d", "2"],
      ["lt_e", "3"], ["max_f", "4"], ["has_g", "false"], ["like_h", "*ab*"],
    ]);
  });

  it("quotes strings the server would read as JSON", () => {
    expect(toQuerystring({ code: "123", ok: "true", t: "plain" })).toEqual([["code", '"123"'], ["ok", '"true"'], ["t", "plain"]]);
    expect(toQuerystring({ n: 5, x: null, y: true })).toEqual([["n", "5"], ["x", "null"], ["y", "true"]]);
  });

  it("leaves out what the server cannot express: the local filter decides", () => {
    expect(toQuerystring({ b: { $in: ["a,b", "c"] }, o: { $eq: { k: 1 } }, "bad field": 1 })).toEqual([]);
  });
});
