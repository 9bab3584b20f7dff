/**
 * Back-pressure: a consumer facing a large backlog never holds more than its bounds, and its memory
 * stays flat while it works through the backlog.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { AckPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import { type ConsumedEvent, createEventConsumer } from "../../streams/src/consumer.js";
import { dataschemaOf, sourceUrn, subjectFor, toHeaders } from "../../streams/src/envelope.js";
import { DLQ_STREAM } from "../../streams/src/names.js";
import { withJetStream } from "../harness/nats.js";

const STREAM = "MFG_MACHINE";
const DURABLE = "backlog-reader";
const TYPE = "mfg.machine.downtime_started.v1";
const MiB = 1024 * 1024;

/** A real gc() even without --expose-gc, so heap samples measure live data, not garbage. */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

test("a 100 000-event backlog is consumed within the in-flight and buffer bounds, with flat memory", async (t) => {
  const { nc, js, jsm } = await withJetStream(t);
  await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
  await jsm.streams.add({ name: DLQ_STREAM, subjects: ["mfg.dlq.>"] });
  await jsm.consumers.add(STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(30_000),
  });
  const codec = new EventCodec();
  const total = 100_000;
  const concurrency = 8;
  const maxBuffered = 64;

  // The backlog, published fast: raw JetStream publishes pipelined in windows of 1 024 (the typed
  // publisher's own window is tested in publish.test.ts), each a valid event with CloudEvents headers.
  const subject = subjectFor(TYPE, "lyon", "l1");
  const source = sourceUrn("bench", "lyon");
  const startedAt = new Date("2026-11-30T08:00:00.000Z");
  const dataschema = dataschemaOf(TYPE, codec.contract(TYPE).fingerprint);
  let window: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const key = `m${i % 40}`;
    const value: DowntimeStarted = {
      downtimeId: String(i),
      equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: key },
      reason: null,
      category: "UNPLANNED",
      startedAt,
    };
    const id = `backlog-${i}`;
    const headers = toHeaders({ id, source, type: TYPE, time: startedAt, subject: key, dataschema });
    window.push(js.publish(subject, codec.encode(TYPE, value), { headers, msgID: id }));
    if (window.length === 1_024) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
  assert.equal((await jsm.streams.info(STREAM)).state.messages, total);

  const gc = gcFunction();
  const seen = new Uint8Array(total);
  let handled = 0;
  let running = 0;
  let peakRunning = 0;
  const consumer = createEventConsumer(nc, {
    stream: STREAM,
    durable: DURABLE,
    codec,
    concurrency,
    maxBuffered,
    handlers: {
      [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
        running++;
        peakRunning = Math.max(peakRunning, running);
        // A handler taking 0-1 ms: half return after a timer, half after the current I/O phase.
        await new Promise<void>((resolve) =>
          Math.random() < 0.5 ? setTimeout(resolve, 1) : setImmediate(resolve),
        );
        seen[Number(e.value.downtimeId)] = 1;
        handled++;
        running--;
      },
    },
  });
  t.after(() => consumer.stop({ timeoutMs: 1_000 }));

  const samples: { handled: number; heap: number; rss: number }[] = [];
  let boundViolations = 0;
  let maxHeldPlusReserved = 0;
  let maxInFlight = 0;
  const sampler = setInterval(() => {
    const s = consumer.stats();
    maxHeldPlusReserved = Math.max(maxHeldPlusReserved, s.held + s.reserved);
    maxInFlight = Math.max(maxInFlight, s.inFlight);
    if (s.inFlight > concurrency || s.held + s.reserved > maxBuffered) boundViolations++;
  }, 5);
  let baseline: { heap: number; rss: number } | undefined;
  // Live memory, sampled after a full gc twice a second: what the consumer retains, not garbage.
  const memory = setInterval(() => {
    if (handled < total / 4) return;
    gc();
    const m = process.memoryUsage();
    baseline ??= { heap: m.heapUsed, rss: m.rss };
    samples.push({ handled, heap: m.heapUsed, rss: m.rss });
  }, 500);
  t.after(() => {
    clearInterval(sampler);
    clearInterval(memory);
  });

  const began = Date.now();
  await consumer.start();
  while (handled < total) {
    if (Date.now() - began > 120_000) assert.fail(`only ${handled} of ${total} handled in 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);
  clearInterval(memory);
  gc();
  const end = process.memoryUsage();

  assert.equal(
    seen.reduce((n, v) => n + v, 0),
    total,
    "every event handled",
  );
  assert.equal(boundViolations, 0, "never more than the bounds");
  assert.ok(
    maxInFlight <= concurrency && peakRunning <= concurrency,
    `in flight ${maxInFlight}/${peakRunning}`,
  );
  assert.ok(peakRunning > 1, "handlers ran concurrently");
  assert.ok(maxHeldPlusReserved <= maxBuffered, `held + reserved reached ${maxHeldPlusReserved}`);
  const stats = consumer.stats();
  assert.ok(stats.peakInFlight <= concurrency);
  assert.ok(stats.peakHeldPlusReserved <= maxBuffered);

  assert.ok(baseline, "a baseline was taken");
  const peakHeap = Math.max(...samples.map((s) => s.heap), end.heapUsed);
  const peakRss = Math.max(...samples.map((s) => s.rss), end.rss);
  t.diagnostic(
    `${total} events in ${((Date.now() - began) / 1000).toFixed(1)} s; live heap at 1/4 ${(baseline.heap / MiB).toFixed(1)} MiB, ` +
      `peak ${(peakHeap / MiB).toFixed(1)} MiB, end ${(end.heapUsed / MiB).toFixed(1)} MiB; ` +
      `rss at 1/4 ${(baseline.rss / MiB).toFixed(1)} MiB, peak ${(peakRss / MiB).toFixed(1)} MiB (${samples.length} samples)`,
  );
  assert.ok(samples.length >= 4, "memory was sampled through the run");
  assert.ok(
    (peakHeap - baseline.heap) / MiB < 16,
    `live heap grew ${((peakHeap - baseline.heap) / MiB).toFixed(1)} MiB over the first-quarter baseline`,
  );
  assert.ok(
    (peakRss - baseline.rss) / MiB < 64,
    `resident memory grew ${((peakRss - baseline.rss) / MiB).toFixed(1)} MiB over the first-quarter baseline`,
  );

  await consumer.stop();
  const info = await jsm.consumers.info(STREAM, DURABLE);
  assert.equal(info.num_pending, 0);
  assert.equal(info.num_ack_pending, 0);
});
