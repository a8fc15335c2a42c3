import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readmeExamples } from "../support/readme.js";

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

  it("the README's ES module example type-checks against the library's types", () => {
    const dir = join(root, "test-output", "typecheck");
    mkdirSync(dir, { recursive: true });
    const example = readmeExamples()[0].replace(`from "cliquet-client"`, `from "../../src/index.js"`);
    writeFileSync(join(dir, "readme-example.ts"), `${example}\nexport {};\n`);
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const args = ["--noEmit", "--strict", "--skipLibCheck", "--target", "ES2022", "--module", "ES2022",
      "--moduleResolution", "Bundler", "--lib", "ES2022,DOM", join(dir, "readme-example.ts")];
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, ...args], { encoding: "utf8", cwd: root });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe("");
  }, 60_000);
});
