import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The e2e and browser suites start services: one file at a time, each its own.
    fileParallelism: true,
  },
});
