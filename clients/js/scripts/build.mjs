// Build the client: ESM and IIFE bundles (esbuild), .d.ts types (tsc), and the copies the Python
// runtime serves at /v1/__client__/ (cliquet/static/client/, committed so that the wheel holds them).
//   node scripts/build.mjs           build dist/ and update cliquet/static/client/
//   node scripts/build.mjs --check   fail if cliquet/static/client/ differs from a fresh build
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const served = join(root, "..", "..", "cliquet", "static", "client");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const banner = `/* cliquet-client ${pkg.version}: built from clients/js by \`npm run build\`; do not edit. */`;

async function bundle(outdir) {
  const common = {
    entryPoints: [join(root, "src", "index.ts")],
    bundle: true,
    target: "es2020",
    banner: { js: banner },
    legalComments: "none",
    minify: true,
    logLevel: "warning",
  };
  await esbuild.build({ ...common, format: "esm", outfile: join(outdir, "cliquet-client.mjs") });
  await esbuild.build({ ...common, format: "iife", globalName: "cliquet", outfile: join(outdir, "cliquet-client.js") });
}

const FILES = ["cliquet-client.mjs", "cliquet-client.js"];

if (process.argv.includes("--check")) {
  const out = mkdtempSync(join(tmpdir(), "cliquet-client-"));
  try {
    await bundle(out);
    const stale = FILES.filter((f) => {
      const committed = join(served, f);
      return !existsSync(committed) || readFileSync(committed, "utf8") !== readFileSync(join(out, f), "utf8");
    });
    if (stale.length) {
      console.error(`cliquet/static/client/ is not the build of clients/js/src (${stale.join(", ")}): run npm run build`);
      process.exit(1);
    }
    console.log("cliquet/static/client/ matches the sources");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
} else {
  const dist = join(root, "dist");
  rmSync(dist, { recursive: true, force: true });
  await bundle(dist);
  execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  mkdirSync(served, { recursive: true });
  for (const f of FILES) writeFileSync(join(served, f), readFileSync(join(dist, f)));
  console.log(`built dist/ and ${FILES.map((f) => `cliquet/static/client/${f}`).join(", ")}`);
}
