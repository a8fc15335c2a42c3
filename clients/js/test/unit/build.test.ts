import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("the committed build", () => {
  it("cliquet/static/client/ is the build of src/ (rebuilt and compared)", () => {
    const out = execFileSync(process.execPath, [join(root, "scripts", "build.mjs"), "--check"], { encoding: "utf8" });
    expect(out).toMatch(/matches the sources/);
  }, 60_000);

  it("the IIFE build defines window.cliquet.Client", async () => {
    const { readFileSync } = await import("node:fs");
    const code = readFileSync(join(root, "..", "..", "cliquet", "static", "client", "cliquet-client.js"), "utf8");
    const scope: Record<string, any> = {};
    new Function("window", `${code}; window.cliquet = cliquet;`)(scope);
    expect(typeof scope.cliquet.Client).toBe("function");
    expect(scope.cliquet.Strategy.CLIENT_WINS).toBe("client_wins");
  });
});
