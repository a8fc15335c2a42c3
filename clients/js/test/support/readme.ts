import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

/** The ```js blocks of the README's "JavaScript client" section, in order. */
export function readmeExamples(): string[] {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const start = readme.indexOf("\n## JavaScript client\n");
  if (start < 0) throw new Error("README.md has no JavaScript client section");
  const end = readme.indexOf("\n## ", start + 5);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** An example pointed at `server` instead of the README's localhost. */
export function pointedAt(code: string, server: string): string {
  const replaced = code.replace(/(["'])http:\/\/localhost:8888\/v1\1/g, JSON.stringify(server));
  if (replaced === code) throw new Error("the example names no http://localhost:8888/v1 server");
  return replaced;
}
