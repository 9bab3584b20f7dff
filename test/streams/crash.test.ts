/**
 * Consumers in real child processes (test/streams/fixtures/consumer-process.ts): killed with SIGKILL,
 * drained with SIGTERM, scaled out to two replicas of one durable. Each child appends every event id
 * it handled to its own file before acknowledging it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AckPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import { DLQ_STREAM } from "../../streams/src/names.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { type JetStreamFixture, withJetStream } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const STREAM = "MFG_MACHINE";
const DURABLE = "crash-test";
const TYPE = "mfg.machine.downtime_started.v1";
const FIXTURE = fileURLToPath(new URL("./fixtures/consumer-process.js", import.meta.url));

interface Child {
  readonly process: ChildProcess;
  readonly out: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string;
}

async function backlog(fx: JetStreamFixture, count: number): Promise<string[]> {
  await fx.jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
  await fx.jsm.streams.add({ name: DLQ_STREAM, subjects: ["mfg.dlq.>"] });
  await fx.jsm.consumers.add(STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(2_000),
    max_deliver: -1,
  });
  const publisher = new EventPublisher(fx.js, new EventCodec(), { service: "bridge", site: "lyon" });
  const batch = publisher.batch();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const value: DowntimeStarted = {
      downtimeId: `dt-${i}`,
      equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: `m${i % 10}` },
      reason: null,
      category: "UNPLANNED",
      startedAt: new Date("2026-11-30T08:00:00.000Z"),
    };
    ids.push((await batch.publish(TYPE, value, { site: "lyon", line: "l1", key: `m${i % 10}` })).id);
  }
  await batch.flush();
  return ids;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "threadline-crash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the fixture and waits until it consumes. */
async function startChild(
  t: TestContext,
  fx: JetStreamFixture,
  out: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const proc = spawn(process.execPath, [FIXTURE], {
    env: {
      ...process.env,
      NATS_URL: fx.server.clientUrl,
      STREAM,
      DURABLE,
      OUT: out,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const child: Child = { process: proc, out, exited, stderr: "" };
  proc.stderr?.on("data", (d: Buffer) => {
    child.stderr += d.toString();
  });
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await exited;
    }
  });
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    proc.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("ready")) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`consumer process exited early (${code ?? signal}): ${child.stderr}`)),
    );
  });
  return child;
}

function handledBy(child: Child): string[] {
  if (!existsSync(child.out)) return [];
  return readFileSync(child.out, "utf8").split("\n").filter(Boolean);
}

async function settled(jsm: JetStreamManager): Promise<boolean> {
  const info = await jsm.consumers.info(STREAM, DURABLE);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

describe("crash - consumer processes", () => {
  test("a consumer killed with SIGKILL mid-batch loses nothing: a second process finishes, duplicates only for what was in flight", async (t) => {
    const fx = await withJetStream(t);
    const ids = await backlog(fx, 300);
    const dir = tempDir(t);
    const concurrency = 4;
    const first = await startChild(t, fx, join(dir, "first.txt"), {
      HANDLER_DELAY_MS: "10",
      CONCURRENCY: String(concurrency),
    });
    await until("the first process to handle 60 events", () => handledBy(first).length >= 60);
    first.process.kill("SIGKILL");
    assert.equal((await first.exited).signal, "SIGKILL");
    const byFirst = handledBy(first);
    assert.ok(byFirst.length < ids.length, "killed mid-batch");

    const second = await startChild(t, fx, join(dir, "second.txt"), { HANDLER_DELAY_MS: "1" });
    await until("every event handled", () => new Set([...byFirst, ...handledBy(second)]).size === ids.length);
    await until("everything acked", () => settled(fx.jsm));
    second.process.kill("SIGTERM");
    assert.equal((await second.exited).code, 0, second.stderr);

    const bySecond = handledBy(second);
    assert.deepEqual([...new Set([...byFirst, ...bySecond])].sort(), [...ids].sort(), "every event handled");
    assert.equal(new Set(byFirst).size, byFirst.length, "no duplicates within the first process");
    assert.equal(new Set(bySecond).size, bySecond.length, "no duplicates within the second process");
    const twice = byFirst.filter((id) => bySecond.includes(id));
    assert.ok(
      twice.length <= concurrency,
      `only events in flight at the kill are handled twice (${twice.length}, concurrency ${concurrency})`,
    );
  });

  test("SIGTERM drains: the process exits 0 within the deadline, acked what it handled, and the rest is redelivered", async (t) => {
    const fx = await withJetStream(t);
    const ids = await backlog(fx, 200);
    const dir = tempDir(t);
    const drainTimeoutMs = 3_000;
    const first = await startChild(t, fx, join(dir, "first.txt"), {
      HANDLER_DELAY_MS: "50",
      CONCURRENCY: "4",
      MAX_BUFFERED: "16",
      DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
    });
    await until("the first process to handle 20 events", () => handledBy(first).length >= 20);
    const signalled = Date.now();
    first.process.kill("SIGTERM");
    const exit = await first.exited;
    const took = Date.now() - signalled;
    assert.equal(exit.code, 0, first.stderr);
    assert.ok(took < drainTimeoutMs + 1_000, `exited ${took} ms after SIGTERM`);
    const byFirst = handledBy(first);
    // Every message the first process handled was acked; the ones it had buffered were released.
    const info = await fx.jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.ack_floor.stream_seq, byFirst.length, "what was handled is acked, in order");
    assert.equal(info.num_pending + info.num_ack_pending, ids.length - byFirst.length);

    const second = await startChild(t, fx, join(dir, "second.txt"), { HANDLER_DELAY_MS: "1" });
    await until("every event handled", () => new Set([...byFirst, ...handledBy(second)]).size === ids.length);
    await until("everything acked", () => settled(fx.jsm));
    second.process.kill("SIGTERM");
    assert.equal((await second.exited).code, 0, second.stderr);
    const bySecond = handledBy(second);
    assert.deepEqual(
      byFirst.filter((id) => bySecond.includes(id)),
      [],
      "a graceful shutdown hands nothing over twice",
    );
    assert.equal(byFirst.length + bySecond.length, ids.length);
  });

  test("two processes sharing the durable split the work, and no event is handled by both", async (t) => {
    const fx = await withJetStream(t);
    const ids = await backlog(fx, 400);
    const dir = tempDir(t);
    const env = { HANDLER_DELAY_MS: "5", CONCURRENCY: "4", MAX_BUFFERED: "8" };
    const [a, b] = await Promise.all([
      startChild(t, fx, join(dir, "a.txt"), env),
      startChild(t, fx, join(dir, "b.txt"), env),
    ]);
    await until("every event handled", () => new Set([...handledBy(a), ...handledBy(b)]).size === ids.length);
    await until("everything acked", () => settled(fx.jsm));
    a.process.kill("SIGTERM");
    b.process.kill("SIGTERM");
    assert.equal((await a.exited).code, 0, a.stderr);
    assert.equal((await b.exited).code, 0, b.stderr);
    const byA = handledBy(a);
    const byB = handledBy(b);
    assert.ok(byA.length > 0 && byB.length > 0, `both worked (${byA.length} / ${byB.length})`);
    assert.deepEqual(
      byA.filter((id) => byB.includes(id)),
      [],
      "no event handled by both",
    );
    assert.equal(byA.length + byB.length, ids.length, "each event handled exactly once");
    const info = await fx.jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.num_redelivered, 0);
  });
});
