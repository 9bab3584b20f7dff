/**
 * docs/subscribing.md, run - the guide's code blocks as a test, so the guide cannot drift from the code.
 * It also is the end-to-end test of `threadline new service`: the guide goes from that command to a
 * running service.
 *
 * The mechanism (the guide's first paragraph tells its readers the same):
 * - A fenced block is ```sh, ```sh service or ```ts from=<file>; any other fence fails the test.
 * - ```sh blocks run in document order, each as one `bash -euo pipefail` script, in a scratch copy of
 *   the repository (sources and dist/ copied, so tsc only rebuilds what changed; node_modules linked,
 *   never installed), with NATS_URL pointing at a nats-server started for this test; each must exit 0.
 * - A ```sh service block is one long-running command: it is started in the background and must answer
 *   /readyz with 200 on HTTP_PORT before the next block runs; after the last block it gets SIGTERM and
 *   must exit 0, having logged `stopped`.
 * - A ```ts from=<file> block must appear verbatim, indentation aside, as consecutive lines of <file> in
 *   the scratch copy once the blocks ran; <file> must be a file of the generated service (built, tested
 *   and run here) or one of RUN_ELSEWHERE (run by the test named there).
 * Besides, it checks what the guide promises around the blocks: the generated files are Biome-clean, and
 * the service applied the report `threadline publish` printed the id of.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { getFreePort, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const GUIDE = "docs/subscribing.md";
/** Files a ```ts block may quote besides the generated service's, and the test that runs each. */
const RUN_ELSEWHERE: Record<string, string> = {
  "streams/examples/order-progress.ts": "test/streams/example-consumer.test.ts",
};
/** What the scratch copy needs to build, test and run; dist/ keeps its times so tsc is incremental. */
const COPIED = [
  "package.json",
  "tsconfig.json",
  "biome.json",
  "bin",
  "contracts",
  "streams",
  "services",
  "tools",
  "test",
  "dist",
];

interface Block {
  readonly lang: string;
  /** What follows the language on the fence line: `service`, `from=<file>`. */
  readonly info: string;
  readonly text: string;
  /** 1-based line of the fence, for messages. */
  readonly line: number;
}

/** The fenced blocks of a Markdown text. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `${GUIDE}:${i + 1}: the block is not closed`);
    blocks.push({
      lang: open[1]!,
      info: open[2]!.trim(),
      text: lines.slice(i + 1, end).join("\n"),
      line: i + 1,
    });
    i = end;
  }
  return blocks;
}

/** Lines with their common leading spaces removed. */
function dedent(lines: readonly string[]): string[] {
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0).trimEnd());
}

/** Whether `excerpt` is consecutive lines of `file`, indentation aside. */
function quotes(file: string, excerpt: string): boolean {
  const want = dedent(excerpt.split("\n")).join("\n");
  const lines = file.split("\n");
  const n = excerpt.split("\n").length;
  for (let i = 0; i + n <= lines.length; i++)
    if (dedent(lines.slice(i, i + n)).join("\n") === want) return true;
  return false;
}

interface Run {
  code: number | null;
  out: string;
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("docs/subscribing.md: every sh block runs, from `threadline new service` to a running service, and every ts block is quoted from code that is built and run", async (t) => {
  const blocks = fencedBlocks(readFileSync(join(PACKAGE_ROOT, GUIDE), "utf8"));
  for (const b of blocks)
    assert.ok(
      (b.lang === "sh" && (b.info === "" || b.info === "service")) ||
        (b.lang === "ts" && /^from=\S+$/.test(b.info)),
      `${GUIDE}:${b.line}: a block is \`\`\`sh, \`\`\`sh service or \`\`\`ts from=<file>, not \`\`\`${b.lang} ${b.info}`,
    );
  assert.ok(
    blocks.some((b) => b.info === "service"),
    "the guide starts a service",
  );

  const root = mkdtempSync(join(tmpdir(), "threadline-guide-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const entry of COPIED)
    cpSync(join(PACKAGE_ROOT, entry), join(root, entry), { recursive: true, preserveTimestamps: true });
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(root, "node_modules"));

  const server = await startTestServer({}, t);
  const httpPort = await getFreePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`,
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: String(httpPort),
    LOG_LEVEL: "info",
  };
  // Set by node --test for its children: a nested `node --test` would report to this runner instead.
  delete env["NODE_TEST_CONTEXT"];

  let service: { child: ChildProcess; log: () => string; exited: Promise<number | null> } | undefined;
  t.after(() => service?.child.kill("SIGKILL"));
  let output = "";
  for (const block of blocks.filter((b) => b.lang === "sh")) {
    if (block.info === "service") {
      assert.equal(service, undefined, `${GUIDE}:${block.line}: one service at a time`);
      const child = spawn("bash", ["-c", `exec ${block.text.trim()}`], {
        cwd: root,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let log = "";
      child.stdout.on("data", (d: Buffer) => {
        log += d;
      });
      child.stderr.on("data", (d: Buffer) => {
        log += d;
      });
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      service = { child, log: () => log, exited };
      await until(
        `${GUIDE}:${block.line}: the service answering /readyz with 200`,
        async () => {
          assert.equal(child.exitCode, null, `the service exited:\n${log}`);
          const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
          return ready?.status === 200;
        },
        { timeoutMs: 30_000, intervalMs: 200, detail: () => log },
      );
      // /readyz may answer before the line reaches the pipe.
      await until(
        `${GUIDE}:${block.line}: the service logging "service running"`,
        () => /"msg":"service running"/.test(log),
        { detail: () => log },
      );
      continue;
    }
    const run = await bash(block.text, root, env);
    assert.equal(run.code, 0, `${GUIDE}:${block.line} failed:\n${block.text}\n---\n${run.out}`);
    output += run.out;
  }

  // What the guide says happens around its blocks.
  const published = /^published (\S+) stream=MFG_PRODUCTION seq=\d+ subject=\S+$/m.exec(output);
  assert.ok(published, `threadline publish printed no id:\n${output}`);
  assert.ok(service);
  await until(
    "the service applying the published report",
    () => {
      const line = service
        ?.log()
        .split("\n")
        .find((l) => l.includes('"msg":"report applied"'));
      return line?.includes(published[1]!) && line.includes('"applied":true');
    },
    { detail: () => service?.log() ?? "" },
  );
  service.child.kill("SIGTERM");
  assert.equal(await service.exited, 0, service.log());
  assert.match(service.log(), /"msg":"stopped"/);

  const generated = /^create (\S+)$/gm;
  const created = [...output.matchAll(generated)].map((m) => m[1]!);
  assert.ok(created.includes("services/my-service/src/main.ts"), output);
  const lint = await bash(
    `npx biome check --vcs-enabled=false ${created.filter((f) => f.endsWith(".ts")).join(" ")} tools/manifests.ts`,
    root,
    env,
  );
  assert.equal(lint.code, 0, `the generated files are not Biome-clean:\n${lint.out}`);

  for (const block of blocks.filter((b) => b.lang === "ts")) {
    const from = block.info.slice("from=".length);
    assert.ok(
      created.includes(from) || RUN_ELSEWHERE[from] !== undefined,
      `${GUIDE}:${block.line}: ${from} is neither a generated file nor in RUN_ELSEWHERE`,
    );
    if (RUN_ELSEWHERE[from]) assert.ok(existsSync(join(PACKAGE_ROOT, RUN_ELSEWHERE[from])));
    assert.ok(
      quotes(readFileSync(join(root, from), "utf8"), block.text),
      `${GUIDE}:${block.line}: this block is not in ${from} as written:\n${block.text}`,
    );
  }
});
