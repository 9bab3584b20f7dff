/**
 * Service start failures as an operator sees them: a service's real entry point (the machine bridge's
 * or the Odoo connector's main.js) run as a child process, whose failed start is ONE JSON log line —
 * a catalogued `code`, what to do, a message naming what was wrong, no stack trace — and exit code 1.
 * LOG_LEVEL=debug adds the stack to that same line.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { isCatalogedErrorCode, PACKAGE_ROOT } from "../../contracts/src/index.js";
import { CONNECTOR_DURABLES } from "../../services/odoo-connector/src/manifest.js";
import { runService } from "../../streams/src/service.js";
import { START_FAILURE_EXIT_CODE, startOrExit } from "../../streams/src/start.js";
import { startTestServer } from "../harness/nats.js";
import { startOdoo, startStreams } from "../odoo-connector/fixture.js";

const BRIDGE = join(PACKAGE_ROOT, "dist/services/machine-bridge/src/main.js");
const CONNECTOR = join(PACKAGE_ROOT, "dist/services/odoo-connector/src/main.js");

interface Run {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a service entry point with exactly `env` (plus PATH) until it exits. */
function runEntryPoint(entry: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      env: { PATH: process.env["PATH"] ?? "", HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

type Line = Record<string, unknown> & { level: number; msg: string };

/**
 * The run's one failure line, after checking what every failed start must show: every output line is
 * JSON, exactly one is at error level or above, it carries a catalogued code and no stack, nothing
 * went to stderr, and the exit code is 1.
 */
function failureLine(run: Run): Line {
  const detail = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  assert.equal(run.exitCode, START_FAILURE_EXIT_CODE, detail);
  assert.equal(run.stderr, "", `nothing on stderr (no stack trace, no warning)\n${detail}`);
  const lines = run.stdout
    .split("\n")
    .filter(Boolean)
    .map((text) => {
      try {
        return JSON.parse(text) as Line;
      } catch {
        return assert.fail(`a line that is not JSON: ${text}`);
      }
    });
  const errors = lines.filter((l) => l.level >= 50);
  assert.equal(errors.length, 1, `exactly one error line\n${detail}`);
  const line = errors[0] as Line;
  assert.equal(line.level, 60, "the failure line is fatal");
  assert.ok(typeof line.code === "string" && isCatalogedErrorCode(line.code), `code ${String(line.code)}`);
  assert.equal(typeof line.action, "string", "the line says what to do");
  assert.match(line.msg, /^cannot start: /);
  assert.doesNotMatch(run.stdout, /\n\s+at |"stack"/, "no stack trace without LOG_LEVEL=debug");
  return line;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test("service start - a bad setting is one fatal line naming it (CONFIG_INVALID, key), exit 1", async () => {
  const run = await runEntryPoint(BRIDGE, { BRIDGE_CONFIG: "plant.yaml", DRAIN_TIMEOUT_MS: "soon" });
  const line = failureLine(run);
  assert.equal(line.code, "CONFIG_INVALID");
  assert.equal(line.key, "DRAIN_TIMEOUT_MS");
  assert.match(line.msg, /DRAIN_TIMEOUT_MS is invalid/);
  assert.equal(line.service, "machine-bridge");
});

test("service start - NATS unreachable is one fatal line naming the URL (NATS_UNREACHABLE), exit 1", async () => {
  const port = await freePort();
  const run = await runEntryPoint(BRIDGE, {
    BRIDGE_CONFIG: "plant.yaml",
    NATS_URL: `nats://127.0.0.1:${port}`,
  });
  const line = failureLine(run);
  assert.equal(line.code, "NATS_UNREACHABLE");
  assert.match(line.msg, new RegExp(`cannot connect to nats://127\\.0\\.0\\.1:${port}: connection refused`));
});

test("service start - credentials the server refuses are one fatal line (NATS_AUTH_REFUSED) without the password, exit 1", async (t) => {
  const server = await startTestServer(
    { extraConfig: 'authorization { user: "bridge", password: "right-password" }' },
    t,
  );
  const run = await runEntryPoint(BRIDGE, {
    BRIDGE_CONFIG: "plant.yaml",
    NATS_URL: server.clientUrl,
    NATS_USER: "bridge",
    NATS_PASSWORD: "wrong-password",
  });
  const line = failureLine(run);
  assert.equal(line.code, "NATS_AUTH_REFUSED");
  assert.match(line.msg, /refused the credentials: .*[Aa]uthorization/);
  assert.doesNotMatch(run.stdout, /wrong-password/);
});

test("service start - a tls:// URL against a server without TLS is refused (NATS_TLS_UNAVAILABLE), not downgraded", async (t) => {
  const server = await startTestServer({}, t);
  const run = await runEntryPoint(BRIDGE, {
    BRIDGE_CONFIG: "plant.yaml",
    NATS_URL: server.clientUrl.replace(/^nats:/, "tls:"),
  });
  const line = failureLine(run);
  assert.equal(line.code, "NATS_TLS_UNAVAILABLE");
  assert.match(line.msg, /does not offer TLS, and NATS_URL asks for it/);
  const connz = (await (await fetch(`${server.monitorUrl}/connz?state=all`)).json()) as {
    connections: { name?: string }[];
  };
  assert.ok(
    !connz.connections.some((c) => c.name === "machine-bridge"),
    "the service never completed a plain-text connection",
  );
});

test("service start - a busy HTTP port is one fatal line naming HTTP_PORT and the port, exit 1", async (t) => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => taken.close(() => r())));
  const port = (taken.address() as { port: number }).port;
  const run = await runEntryPoint(BRIDGE, { BRIDGE_CONFIG: "plant.yaml", HTTP_PORT: String(port) });
  const line = failureLine(run);
  assert.equal(line.code, "CONFIG_INVALID");
  assert.equal(line.key, "HTTP_PORT");
  assert.match(line.msg, new RegExp(`^cannot start: HTTP_PORT ${port} is in use by another process: `));
});

test("service start - the schema registry bucket missing is one fatal line naming it (REGISTRY_NOT_FOUND), exit 1", async (t) => {
  const server = await startTestServer({}, t); // JetStream, nothing declared
  const run = await runEntryPoint(BRIDGE, { BRIDGE_CONFIG: "plant.yaml", NATS_URL: server.clientUrl });
  const line = failureLine(run);
  assert.equal(line.code, "REGISTRY_NOT_FOUND");
  assert.match(line.msg, /THREADLINE_SCHEMAS does not exist/);
});

test("service start - a file setup cannot read is one fatal line naming it (CONFIG_INVALID), exit 1", async (t) => {
  const { server } = await startStreams(t);
  const run = await runEntryPoint(BRIDGE, {
    BRIDGE_CONFIG: "/nonexistent/plant.yaml",
    NATS_URL: server.clientUrl,
  });
  const line = failureLine(run);
  assert.equal(line.code, "CONFIG_INVALID");
  assert.match(line.msg, /\/nonexistent\/plant\.yaml/);
});

test("service start - a declared durable missing is one fatal line naming it (CONSUMER_SETUP), exit 1", async (t) => {
  const { server, jsm } = await startStreams(t);
  const sim = await startOdoo(t, { profile: 18, db: "start" });
  // Partitioned in the connector's manifest: one of its partitions missing is named.
  const durable = `${CONNECTOR_DURABLES.quality}-p2`;
  const stream = "MFG_QUALITY"; // as the connector's manifest declares it
  await jsm.consumers.delete(stream, durable);
  const run = await runEntryPoint(CONNECTOR, {
    NATS_URL: server.clientUrl,
    ODOO_URL: sim.url,
    ODOO_DB: sim.db,
    ODOO_LOGIN: sim.users.integration.login,
    ODOO_API_KEY: sim.users.integration.apiKey,
    RECONCILE_INTERVAL_MS: "0",
  });
  const line = failureLine(run);
  assert.equal(line.code, "CONSUMER_SETUP");
  assert.equal(line.service, "odoo-connector");
  assert.match(line.msg, new RegExp(`consumer ${durable} on stream ${stream} does not exist`));
});

test("service start - LOG_LEVEL=debug puts the stack and cause in the same one line", async () => {
  const port = await freePort();
  const run = await runEntryPoint(BRIDGE, {
    BRIDGE_CONFIG: "plant.yaml",
    NATS_URL: `nats://127.0.0.1:${port}`,
    LOG_LEVEL: "debug",
  });
  assert.equal(run.exitCode, START_FAILURE_EXIT_CODE);
  assert.equal(run.stderr, "");
  const errors = run.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.level >= 50);
  assert.equal(errors.length, 1);
  const err = errors[0]?.err as { type: string; stack: string };
  assert.equal(err.type, "ConnectError");
  assert.match(err.stack, /\n\s+at /);
  assert.match(err.stack, /caused by: /);
});

test("service start - a setup that throws an error without a code is SERVICE_SETUP_FAILED, naming the service", async (t) => {
  const { server } = await startStreams(t);
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => {
    text += d.toString();
  });
  let exitCode: number | undefined;
  const exited = new Error("exited");
  await assert.rejects(
    startOrExit(
      "setup-check",
      () =>
        runService({
          name: "setup-check",
          env: { NATS_URL: server.clientUrl, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", LOG_LEVEL: "info" },
          handleSignals: false,
          logDestination: out,
          setup: () => {
            throw new TypeError("plant is undefined");
          },
        }),
      {
        env: { LOG_LEVEL: "info" },
        destination: out,
        exit: (code) => {
          exitCode = code;
          throw exited;
        },
      },
    ),
    (e) => e === exited,
  );
  assert.equal(exitCode, START_FAILURE_EXIT_CODE);
  const lines = text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
  const errors = lines.filter((l) => l.level >= 50);
  assert.equal(errors.length, 1, text);
  assert.equal(errors[0]?.code, "SERVICE_SETUP_FAILED");
  assert.equal(errors[0]?.msg, "cannot start: setup-check's setup failed: TypeError: plant is undefined");
  assert.doesNotMatch(text, /"stack"/);
});
