#!/usr/bin/env node
// The `threadline` command: a thin launcher for the compiled CLI in dist/.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/tools/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("threadline: dist/ is missing; run `npm ci` (or `npm run build`) first\n");
  process.exit(2);
}
await import(entry.href);
