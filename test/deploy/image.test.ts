/**
 * The container image without a container engine: the runtime stage of deploy/image/Dockerfile is
 * rebuilt in an empty folder from its own COPY lines — a production-only install of the lock file
 * (what the production-deps stage does), and the built files the stage copies — and every service's entry
 * point is started from it. Each must get as far as checking its configuration (one JSON line naming
 * what is missing, exit 1): a runtime dependency left in devDependencies, or a file the image does not
 * copy, fails here instead of in a cluster.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { SERVICE_MANIFESTS } from "../../tools/manifests.js";

const DOCKERFILE = join(PACKAGE_ROOT, "deploy/image/Dockerfile");

interface Stage {
  readonly name: string;
  readonly lines: readonly string[];
}

/** The Dockerfile's stages, their instructions (comments and continuation lines joined). */
function stages(text: string): Stage[] {
  const out: { name: string; lines: string[] }[] = [];
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const from = /^FROM\s+\S+\s+AS\s+(\S+)$/i.exec(line);
    if (from) out.push({ name: from[1] as string, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

const all = stages(readFileSync(DOCKERFILE, "utf8"));
const runtime = all.find((s) => s.name === "runtime");
const build = all.find((s) => s.name === "build");

const dir = mkdtempSync(join(tmpdir(), "threadline-image-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the runtime stage: distroless node as the entrypoint (no shell, no npm), a non-root user, only production dependencies and built files", () => {
  assert.ok(runtime && build, "the Dockerfile has a build and a runtime stage");
  assert.ok(runtime.lines.includes('ENTRYPOINT ["/nodejs/bin/node"]'), "node is the entrypoint, exec form");
  const user = runtime.lines.find((l) => l.startsWith("USER "));
  assert.match(user ?? "", /^USER [1-9]\d*:[1-9]\d*$/, "a numeric non-root user");
  assert.ok(!runtime.lines.some((l) => /^RUN\b/.test(l)), "the runtime stage runs nothing (it has no shell)");
  const sources = runtime.lines
    .filter((l) => l.startsWith("COPY"))
    .map((l) => l.split(/\s+/).slice(-2)[0] ?? "");
  // Built code, the schemas the codec reads, the launcher, the manifest of the package: no sources, no tests.
  for (const source of sources)
    assert.match(
      source,
      /^\/src\/(dist\/(contracts|streams|services|tools)|contracts\/schemas|package\.json|bin)$|^\/app\/node_modules$/,
    );
});

test("every service starts from the runtime stage's files alone, as far as checking its configuration", () => {
  assert.ok(runtime);
  const app = join(dir, "app");
  mkdirSync(app);
  for (const line of runtime.lines.filter((l) => l.startsWith("COPY --from="))) {
    const [, from, src, dest] = /^COPY --from=(\S+)\s+(\S+)\s+(\S+)$/.exec(line) ?? [];
    assert.ok(from && src && dest, `a COPY line this test reads: ${line}`);
    const target = join(app, dest);
    if (from === "production-deps") {
      assert.equal(src, "/app/node_modules");
      // What the production-deps stage runs, on the same lock file.
      mkdirSync(join(dir, "deps"));
      cpSync(join(PACKAGE_ROOT, "package.json"), join(dir, "deps", "package.json"));
      cpSync(join(PACKAGE_ROOT, "package-lock.json"), join(dir, "deps", "package-lock.json"));
      execFileSync(
        "npm",
        ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
        {
          cwd: join(dir, "deps"),
          stdio: "pipe",
        },
      );
      cpSync(join(dir, "deps", "node_modules"), target, { recursive: true });
      continue;
    }
    assert.equal(from, "build", line);
    const source = join(PACKAGE_ROOT, src.replace(/^\/src\//, ""));
    assert.ok(existsSync(source), `${src} exists after the build (${source})`);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(source, target, { recursive: true });
  }
  assert.ok(!existsSync(join(app, "node_modules", "typescript")), "no devDependency in the image");

  const run = (entry: string, args: string[] = []) =>
    spawnSync(process.execPath, [entry, ...args], {
      cwd: app,
      // Nothing configured: each service must load every module, then refuse its configuration.
      env: { PATH: process.env["PATH"] ?? "", NODE_ENV: "production", HTTP_PORT: "0" },
      encoding: "utf8",
      timeout: 60_000,
    });
  for (const m of SERVICE_MANIFESTS) {
    const entry = `dist/services/${m.service}/src/main.js`;
    assert.ok(existsSync(join(app, entry)), `${entry} is in the image`);
    const r = run(entry);
    const output = `${r.stdout}${r.stderr}`;
    assert.doesNotMatch(
      output,
      /ERR_MODULE_NOT_FOUND|Cannot find (package|module)/,
      `${m.service}: ${output}`,
    );
    assert.equal(r.status, 1, `${m.service} exits 1 on a configuration it cannot start with: ${output}`);
    const [line] = r.stdout.trim().split("\n");
    const failure = JSON.parse(line ?? "{}") as {
      level?: number;
      code?: string;
      service?: string;
      msg?: string;
    };
    assert.equal(failure.service, m.service, output);
    assert.ok(failure.code, `${m.service}: the failure names a code: ${line}`);
  }
  const cli = run("dist/tools/cli/main.js", ["--help"]);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /Usage: threadline/);
});
