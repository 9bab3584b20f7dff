/**
 * The runtime SDK's consumer against a real nats-server: typed decode and ack, retries with backoff,
 * dead letters, per-key ordering, pause/resume, a deleted durable, a server restart.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AckPolicy,
  type ConsumerConfig,
  type JetStreamManager,
  jetstream,
  type StoredMsg,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos, headers as natsHeaders } from "@nats-io/nats-core";
import { type Counter, Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import type { DowntimeStarted } from "../../contracts/src/events.generated.js";
import {
  type ConsumedEvent,
  type ConsumerOptions,
  type ConsumerStatus,
  createEventConsumer,
  type EventConsumer,
  IllegalStateError,
  PermanentError,
} from "../../streams/src/consumer.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import { newEventId, newTraceparent, sourceUrn, subjectFor, toHeaders } from "../../streams/src/envelope.js";
import { ConfigError } from "../../streams/src/errors.js";
import { metricsFor } from "../../streams/src/metrics.js";
import { DLQ_STREAM, dlqSubject } from "../../streams/src/names.js";
import { EventPublisher, type Published } from "../../streams/src/publisher.js";
import { readMessages } from "../../streams/src/read.js";
import { connectTo, withJetStream } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import { downtime } from "./fixtures/downtime.js";

const STREAM = "MFG_MACHINE";
const DURABLE = "downtime-tracker";
const TYPE = "mfg.machine.downtime_started.v1";
const codec = new EventCodec();

async function setup(jsm: JetStreamManager, consumer: Partial<ConsumerConfig> = {}): Promise<void> {
  await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
  await jsm.streams.add({ name: DLQ_STREAM, subjects: ["mfg.dlq.>"] });
  await jsm.consumers.add(STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(5_000),
    max_deliver: 5,
    ...consumer,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function counterValue(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

function consumerFor(
  t: { after: (fn: () => Promise<void>) => void },
  nc: NatsConnection,
  options: Partial<ConsumerOptions> & Pick<ConsumerOptions, "handlers" | "handler">,
): EventConsumer {
  const c = createEventConsumer(nc, {
    stream: STREAM,
    durable: DURABLE,
    codec,
    pullExpiresMs: 2_000,
    ...options,
  });
  t.after(() => c.stop({ timeoutMs: 1_000 }));
  return c;
}

/** The dead letters, as `jsm.streams.getMessage` would give them (subject, data, header). */
async function dlqMessages(nc: NatsConnection): Promise<Pick<StoredMsg, "subject" | "data" | "header">[]> {
  const out: Pick<StoredMsg, "subject" | "data" | "header">[] = [];
  for await (const m of readMessages(nc, { stream: DLQ_STREAM }))
    out.push({ subject: m.subject, data: m.data, header: m.headers ?? natsHeaders() });
  return out;
}

describe("consume - decode and ack", () => {
  test("a typed handler receives the decoded event with its envelope, and every message is acked", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const published: Published[] = [];
    for (let i = 0; i < 5; i++)
      published.push(
        await publisher.publish(TYPE, downtime(`dt-${i}`), { site: "lyon", line: "l1", key: `m-${i % 2}` }),
      );
    const registry = new Registry();
    const seen: ConsumedEvent<DowntimeStarted>[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      handlers: {
        [TYPE]: async (event: ConsumedEvent<DowntimeStarted>) => {
          seen.push(event);
        },
      },
    });
    await consumer.start();
    assert.equal(consumer.state, "running");
    await until("5 events", () => seen.length === 5);
    await until(
      "all acked",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 5,
    );

    const bySeq = [...seen].sort((a, b) => a.streamSequence - b.streamSequence);
    bySeq.forEach((event, i) => {
      const p = published[i]!;
      assert.deepEqual(structuredClone(event.value), downtime(`dt-${i}`)); // avsc values are record instances
      assert.equal(event.id, p.envelope.id);
      assert.equal(event.type, TYPE);
      assert.equal(event.key, `m-${i % 2}`);
      assert.equal(event.envelope.source, "urn:threadline:bridge:lyon");
      assert.equal(event.envelope.traceparent, p.envelope.traceparent);
      assert.equal(event.envelope.time.getTime(), p.envelope.time.getTime());
      assert.equal(event.routingSubject, "mfg.machine.downtime_started.lyon.l1");
      assert.equal(event.stream, STREAM);
      assert.equal(event.streamSequence, i + 1);
      assert.equal(event.deliveryCount, 1);
      assert.equal(event.writer.fingerprint, codec.contract(TYPE).fingerprint);
    });
    const info = await jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
    const m = metricsFor(registry);
    assert.equal(await counterValue(m.consumed, { outcome: "acked", event_type: TYPE }), 5);

    await consumer.stop();
    assert.equal(consumer.state, "stopped");
  });

  test("a message of a type without a handler is acked and counted as skipped", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(
      "mfg.machine.machine_state_changed.v1",
      {
        equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: "m1" },
        state: "EXECUTE",
        previousState: "IDLE",
        mode: "PRODUCTION",
        stopReason: null,
        changedAt: new Date(),
      },
      { site: "lyon", key: "m1" },
    );
    await publisher.publish(TYPE, downtime("dt-1"), { site: "lyon", key: "m1" });
    const registry = new Registry();
    const seen: string[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      handlers: { [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => void seen.push(e.value.downtimeId) },
    });
    await consumer.start();
    await until(
      "both settled",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 2,
    );
    assert.deepEqual(seen, ["dt-1"]);
    assert.equal(await counterValue(metricsFor(registry).consumed, { outcome: "skipped" }), 1);
    assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 0);
  });
});

describe("consume - retries", () => {
  test("a transient failure is nak'd with a growing backoff, redelivered, then acked", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("flaky"), { site: "lyon", key: "m1" });
    const registry = new Registry();
    const attempts: { at: number; deliveryCount: number }[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      retryBackoff: { initialDelayMs: 300, multiplier: 2, jitter: 0 },
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          attempts.push({ at: Date.now(), deliveryCount: e.deliveryCount });
          if (attempts.length < 3) throw new Error("ERP is down");
        },
      },
    });
    await consumer.start();
    await until("acked", async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 1);
    assert.deepEqual(
      attempts.map((a) => a.deliveryCount),
      [1, 2, 3],
    );
    const gap1 = attempts[1]!.at - attempts[0]!.at;
    const gap2 = attempts[2]!.at - attempts[1]!.at;
    assert.ok(gap1 >= 280, `first retry after ${gap1} ms, expected ~300`);
    assert.ok(gap2 >= 580, `second retry after ${gap2} ms, expected ~600`);
    const m = metricsFor(registry);
    assert.equal(await counterValue(m.consumed, { outcome: "nak" }), 2);
    assert.equal(await counterValue(m.consumed, { outcome: "acked" }), 1);
    assert.equal(await counterValue(m.redeliveries, {}), 2);
    assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 0);
  });
});

describe("consume - long handlers and shutdown", () => {
  test("a handler running longer than ack_wait keeps its message: the consumer sends working() by itself", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm, { ack_wait: nanos(1_000) });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("slow"), { site: "lyon", key: "m1" });
    let calls = 0;
    const consumer = consumerFor(t, nc, {
      handlers: {
        [TYPE]: async () => {
          calls++;
          await sleep(2_500);
        },
      },
    });
    await consumer.start();
    await until("acked", async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 1);
    assert.equal(calls, 1);
    assert.equal((await jsm.consumers.info(STREAM, DURABLE)).num_redelivered, 0);
  });

  test("stop() lets running handlers finish, then aborts the ones past the deadline and naks their messages", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await publisher.publish(TYPE, downtime("quick"), { site: "lyon", key: "a" });
    await publisher.publish(TYPE, downtime("stuck"), { site: "lyon", key: "b" });
    const registry = new Registry();
    const finished: string[] = [];
    let abortReason: unknown;
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>, ctx) => {
          if (e.value.downtimeId === "quick") {
            await sleep(200);
            finished.push("quick");
            return;
          }
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener("abort", () => {
              abortReason = ctx.signal.reason;
              resolve();
            }),
          );
          finished.push("stuck (after the deadline)");
        },
      },
    });
    const states: string[] = [];
    void (async () => {
      for await (const s of consumer.status()) if (s.type === "state") states.push(s.to);
    })();
    await consumer.start();
    await until("both running", () => consumer.stats().inFlight === 2);
    const began = Date.now();
    await consumer.stop({ timeoutMs: 700 });
    const took = Date.now() - began;
    assert.ok(took >= 650 && took < 2_000, `stop took ${took} ms`);
    assert.equal(consumer.state, "stopped");
    await until("every transition notified", () => states.length === 4);
    assert.deepEqual(states, ["running", "stopping", "draining", "stopped"]);
    assert.equal((abortReason as Error)?.name, "ShutdownAbortError");
    const m = metricsFor(registry);
    assert.equal(await counterValue(m.consumed, { outcome: "acked" }), 1);
    assert.equal(await counterValue(m.consumed, { outcome: "released" }), 1);
    const info = await jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.ack_floor.stream_seq, 1, "the finished one is acked");
    assert.equal(info.num_ack_pending, 1, "the aborted one was nak'd and waits for redelivery");
    await sleep(50);
    assert.deepEqual(finished.sort(), ["quick", "stuck (after the deadline)"]);
  });
});

describe("consume - dead letters", () => {
  test("poison messages land in MFG_DLQ with every DLQ header and the messages after them are processed", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm, { max_deliver: 3 });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const subject = subjectFor(TYPE, "lyon");
    const envelope = (key: string) => ({
      id: newEventId(),
      source: sourceUrn("bridge", "lyon"),
      type: TYPE,
      time: new Date(),
      subject: key,
      dataschema: "urn:threadline:schema:test",
      traceparent: newTraceparent(),
    });
    const good = codec.encode(TYPE, downtime("good"));

    await publisher.publish(TYPE, downtime("before"), { site: "lyon", key: "ok" }); // 1
    const garbage = new TextEncoder().encode("this is not avro at all");
    await js.publish(subject, garbage, { headers: toHeaders(envelope("garbage")) }); // 2
    const unknownFp = Buffer.from(good);
    unknownFp.fill(0xee, 2, 10);
    await js.publish(subject, unknownFp, { headers: toHeaders(envelope("unknown-fp")) }); // 3
    await js.publish(subject, good); // 4: no headers at all
    await publisher.publish(TYPE, downtime("permanent"), { site: "lyon", key: "perm" }); // 5
    await publisher.publish(TYPE, downtime("always-failing"), { site: "lyon", key: "flaky" }); // 6
    await publisher.publish(TYPE, downtime("after"), { site: "lyon", key: "ok" }); // 7

    const registry = new Registry();
    const handled: string[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      concurrency: 1,
      retryBackoff: { initialDelayMs: 100, jitter: 0 },
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          if (e.value.downtimeId === "permanent")
            throw new PermanentError(
              "CONNECTOR_ORDER_NOT_FOUND",
              "production order WH/MO/404 does not exist in Odoo",
            );
          if (e.value.downtimeId === "always-failing") throw new Error("timeout talking to the ERP");
          handled.push(e.value.downtimeId);
        },
      },
    });
    const statuses: ConsumerStatus[] = [];
    void (async () => {
      for await (const s of consumer.status()) statuses.push(s);
    })();
    await consumer.start();
    await until("5 dead letters", async () => (await jsm.streams.info(DLQ_STREAM)).state.messages === 5);
    await until("everything settled", async () => {
      const info = await jsm.consumers.info(STREAM, DURABLE);
      return info.ack_floor.stream_seq === 7 && info.num_ack_pending === 0;
    });
    assert.deepEqual(handled.sort(), ["after", "before"]);

    const dead = await dlqMessages(nc);
    const bySeq = new Map(
      dead.map((stored) => {
        const letter = readDeadLetter(stored);
        return [letter.sequence, { stored, letter }];
      }),
    );
    const expected: [number, string][] = [
      [2, "BAD_MARKER"],
      [3, "UNKNOWN_FINGERPRINT"],
      [4, "ENVELOPE_INVALID"],
      [5, "CONNECTOR_ORDER_NOT_FOUND"],
      [6, "MAX_DELIVERIES"],
    ];
    for (const [seq, code] of expected) {
      const found = bySeq.get(seq);
      assert.ok(found, `dead letter for sequence ${seq}`);
      const { stored: m, letter } = found;
      assert.equal(m.subject, dlqSubject(STREAM, DURABLE));
      assert.equal(letter.code, code, `code of sequence ${seq}`);
      assert.equal(letter.stream, STREAM);
      assert.equal(letter.consumer, DURABLE);
      assert.equal(letter.subject, subject);
      assert.ok(letter.message.length > 0);
      const first = letter.firstFailureAt.getTime();
      const last = letter.lastFailureAt.getTime();
      assert.ok(first > 0 && last >= first, `failure times of sequence ${seq}`);
      assert.equal(m.header.get("Nats-Msg-Id"), `${STREAM}:${seq}`);
      const original = await jsm.streams.getMessage(STREAM, { seq });
      assert.deepEqual(
        Buffer.from(letter.data),
        Buffer.from(original!.data),
        `original data of sequence ${seq}`,
      );
      if (seq !== 4)
        assert.equal(letter.headers.get("ce-id"), original!.header.get("ce-id"), "original headers kept");
    }
    assert.equal(bySeq.get(2)!.letter.deliveries, 1);
    assert.equal(bySeq.get(5)!.letter.deliveries, 1);
    assert.match(bySeq.get(5)!.letter.message, /WH\/MO\/404/);
    const maxed = bySeq.get(6)!.letter;
    assert.equal(maxed.deliveries, 3);
    assert.match(maxed.message, /timeout talking to the ERP/);
    assert.ok(
      maxed.lastFailureAt.getTime() > maxed.firstFailureAt.getTime(),
      "first failure is the first delivery's, last failure the third's",
    );

    const m = metricsFor(registry);
    assert.equal(await counterValue(m.consumed, { outcome: "dead_lettered" }), 5);
    assert.equal(await counterValue(m.deadLettered, { reason: "MAX_DELIVERIES" }), 1);
    assert.equal(await counterValue(m.deadLettered, { reason: "ENVELOPE_INVALID" }), 1);
    assert.equal(statuses.filter((s) => s.type === "dead_lettered").length, 5);
    // Terminated, not redelivered: nothing more arrives in the DLQ.
    await sleep(500);
    assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 5);
  });

  test("a poison message already dead-lettered by an earlier delivery is not dead-lettered twice", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    await js.publish(subjectFor(TYPE, "lyon"), new TextEncoder().encode("garbage garbage")); // seq 1, no headers
    // An earlier delivery got as far as the dead-letter publish, then the process died before term().
    await js.publish(dlqSubject(STREAM, DURABLE), new TextEncoder().encode("garbage garbage"), {
      msgID: `${STREAM}:1`,
    });
    const consumer = consumerFor(t, nc, { handler: async () => {} });
    await consumer.start();
    await until(
      "settled",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 1,
    );
    assert.equal((await jsm.streams.info(DLQ_STREAM)).state.messages, 1);
  });

  test("when the dead-letter stream is missing the poison is nak'd, not lost", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    await jsm.streams.delete(DLQ_STREAM);
    await js.publish(subjectFor(TYPE, "lyon"), new TextEncoder().encode("garbage garbage"));
    const registry = new Registry();
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      retryBackoff: { initialDelayMs: 100, jitter: 0 },
      handler: async () => {},
    });
    await consumer.start();
    const m = metricsFor(registry);
    await until("a nak", async () => (await counterValue(m.consumed, { outcome: "nak" })) >= 1);
    await jsm.streams.add({ name: DLQ_STREAM, subjects: ["mfg.dlq.>"] });
    await until(
      "dead-lettered once the DLQ exists",
      async () => (await jsm.streams.info(DLQ_STREAM)).state.messages === 1,
    );
    await until(
      "settled",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 1,
    );
  });
});

describe("consume - per-key ordering", () => {
  test("events of one key are handled in stream order under concurrency, even when some are retried", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm, { max_deliver: 10 });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const keys = 20;
    const perKey = 50;
    const batch = publisher.batch({ maxInFlight: 200 });
    for (let i = 0; i < perKey; i++)
      for (let k = 0; k < keys; k++)
        await batch.publish(TYPE, downtime(`k${k}#${i}`), { site: "lyon", key: `k${k}` });
    await batch.flush();

    const order = new Map<string, number[]>();
    const failedOnce = new Set<string>();
    let running = 0;
    let peak = 0;
    const consumer = consumerFor(t, nc, {
      ordered: true,
      concurrency: 8,
      maxBuffered: 64,
      retryBackoff: { initialDelayMs: 10, maxDelayMs: 50, jitter: 0.5 },
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          running++;
          peak = Math.max(peak, running);
          try {
            await sleep(Math.random() * 3);
            const [key, n] = e.value.downtimeId.split("#") as [string, string];
            assert.equal(key, e.key);
            // Every 7th event fails once: the key must wait for its retry.
            if (Number(n) % 7 === 3 && !failedOnce.has(e.value.downtimeId)) {
              failedOnce.add(e.value.downtimeId);
              throw new Error("transient");
            }
            const list = order.get(key) ?? [];
            list.push(Number(n));
            order.set(key, list);
          } finally {
            running--;
          }
        },
      },
    });
    await consumer.start();
    await until(
      "all handled",
      () => [...order.values()].reduce((s, l) => s + l.length, 0) === keys * perKey,
      { timeoutMs: 60_000 },
    );
    for (const [key, list] of order) {
      assert.equal(list.length, perKey, `${key} handled ${list.length} times`);
      for (let i = 1; i < list.length; i++)
        assert.ok(list[i]! > list[i - 1]!, `${key}: ${list[i - 1]} then ${list[i]}`);
    }
    assert.ok(failedOnce.size > 0);
    assert.ok(peak > 1, `handlers ran in parallel (peak ${peak})`);
    assert.ok(consumer.stats().peakInFlight <= 8);
    assert.ok(consumer.stats().peakHeldPlusReserved <= 64);
  });
});

describe("consume - a backlog on a server with leaf nodes", () => {
  // A server that accepts leaf nodes (the hub) or gateways serves a pull request younger than 2 s
  // without asking whether anyone still listens on its reply subject (nats-server consumer.go
  // nextWaiting, defaultGatewayRecentSubExpiration). When a full consumer hands what the client holds
  // over and stops its consume, the client's next pull request must not be sent on the way: it would
  // be filled into a closed inbox, and those messages sent again (after their ack wait, or requeued).
  for (const ordered of [false, true])
    test(`slow handlers working through a backlog get each event in one delivery (${ordered ? "ordered" : "unordered"})`, async (t) => {
      const { nc, js, jsm } = await withJetStream(t, { leafnodeListen: true });
      await setup(jsm, { ack_wait: nanos(30_000), max_deliver: 10, max_ack_pending: 64 });
      const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
      const total = 300;
      const batch = publisher.batch({ maxInFlight: 200 });
      for (let i = 0; i < total; i++)
        await batch.publish(TYPE, downtime(`d${i}`), { site: "lyon", key: `m${i % 30}` });
      await batch.flush();

      const deliveries = new Map<string, number>();
      const consumer = consumerFor(t, nc, {
        ordered,
        concurrency: 16,
        maxBuffered: 64,
        pullExpiresMs: 30_000,
        handlers: {
          [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
            await sleep(100);
            deliveries.set(e.value.downtimeId, e.deliveryCount);
          },
        },
      });
      await consumer.start();
      await until("every event handled", () => deliveries.size === total, { timeoutMs: 120_000 });
      assert.deepEqual(
        [...deliveries].filter(([, n]) => n !== 1),
        [],
        "every event handled on its first delivery",
      );
    });
});

describe("consume - pause and resume", () => {
  test("a paused consumer handles nothing though messages are published, and resume continues", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const registry = new Registry();
    const handled: string[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      infoIntervalMs: 200,
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => void handled.push(e.value.downtimeId),
      },
    });
    await consumer.start();
    for (let i = 0; i < 10; i++)
      await publisher.publish(TYPE, downtime(`a${i}`), { site: "lyon", key: "m1" });
    await until("first 10", () => handled.length === 10);

    consumer.pause();
    assert.equal(consumer.state, "paused");
    assert.equal((await metricsFor(registry).paused.get()).values[0]?.value, 1);
    for (let i = 0; i < 10; i++)
      await publisher.publish(TYPE, downtime(`b${i}`), { site: "lyon", key: "m1" });
    await sleep(1_500);
    assert.equal(handled.length, 10, "nothing handled while paused");
    const info = await jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.num_pending, 10, "the backlog waits in the stream");
    const lag = metricsFor(registry).pending;
    await until("the lag gauge shows the backlog", async () => (await lag.get()).values[0]?.value === 10);

    consumer.resume();
    assert.equal(consumer.state, "running");
    await until("all 20", () => handled.length === 20);
    assert.deepEqual(handled.slice(10).sort(), Array.from({ length: 10 }, (_, i) => `b${i}`).sort());
  });

  test('with pauseMode "release", pausing gives buffered messages back to the stream at once', async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    for (let i = 0; i < 8; i++) await publisher.publish(TYPE, downtime(`r${i}`), { site: "lyon", key: "m1" });
    const registry = new Registry();
    const handled: string[] = [];
    const consumer = consumerFor(t, nc, {
      metrics: registry,
      pauseMode: "release",
      concurrency: 1,
      maxBuffered: 8,
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          await sleep(300);
          handled.push(e.value.downtimeId);
        },
      },
    });
    await consumer.start();
    await until("8 held", () => consumer.stats().held === 8);
    consumer.pause();
    assert.equal(consumer.stats().held, 1, "only the running one is kept");
    assert.equal(await counterValue(metricsFor(registry).consumed, { outcome: "released" }), 7);
    await until("the running one finished", () => handled.length === 1);
    consumer.resume();
    await until("all 8", () => handled.length === 8);
  });

  test("illegal transitions throw IllegalStateError and stop is idempotent", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    await setup(jsm);
    const consumer = consumerFor(t, nc, { handler: async () => {} });
    assert.throws(() => consumer.resume(), IllegalStateError);
    assert.throws(() => consumer.pause(), IllegalStateError);
    await consumer.start();
    await assert.rejects(consumer.start(), IllegalStateError);
    consumer.pause();
    consumer.pause();
    const stopping = consumer.stop();
    assert.equal(consumer.stop(), stopping);
    await stopping;
    assert.equal(consumer.state, "stopped");
    assert.throws(() => consumer.resume(), IllegalStateError);
  });

  test("options that conflict or make no sense are refused by name", async (t) => {
    const { nc, jsm } = await withJetStream(t);
    await setup(jsm);
    const base = { stream: STREAM, durable: DURABLE, codec };
    const refused = (options: Partial<ConsumerOptions>, key: string) =>
      assert.throws(
        () => createEventConsumer(nc, { ...base, ...options } as ConsumerOptions),
        (err: unknown) => err instanceof ConfigError && err.key === key,
        key,
      );
    refused({ handler: async () => {}, handlers: { [TYPE]: async () => {} } }, "handler");
    refused({}, "handlers");
    refused(
      { handlers: { "mfg.machine.downtime_startd.v1": async () => {} } as never },
      'handlers["mfg.machine.downtime_startd.v1"]',
    );
    refused({ handler: async () => {}, concurrency: 32, maxBuffered: 8 }, "maxBuffered");
    refused({ handler: async () => {}, orderingKey: () => "k" }, "orderingKey");
    refused({ handler: async () => {}, onUnhandledType: "dead-letter" }, "onUnhandledType");
    refused({ handler: async () => {}, pullExpiresMs: 100 }, "pullExpiresMs");
    const tooMany = createEventConsumer(nc, { ...base, handler: async () => {}, maxDeliver: 50 });
    await assert.rejects(
      tooMany.start(),
      (err: unknown) => err instanceof ConfigError && err.key === "maxDeliver",
    );
    assert.equal(tooMany.state, "failed");
  });
});

describe("consume - recovery", () => {
  test("a durable deleted while running is recreated after its ack floor and consumption continues", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await setup(jsm);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const handled = new Map<string, number>();
    const consumer = consumerFor(t, nc, {
      infoIntervalMs: 200,
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          handled.set(e.value.downtimeId, (handled.get(e.value.downtimeId) ?? 0) + 1);
        },
      },
    });
    const statuses: ConsumerStatus[] = [];
    void (async () => {
      for await (const s of consumer.status()) statuses.push(s);
    })();
    await consumer.start();
    for (let i = 0; i < 10; i++)
      await publisher.publish(TYPE, downtime(`a${i}`), { site: "lyon", key: "m1" });
    await until(
      "first 10 acked",
      async () => (await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq === 10,
    );
    await sleep(500); // let the consumer's info refresh see the ack floor

    await jsm.consumers.delete(STREAM, DURABLE);
    for (let i = 0; i < 10; i++)
      await publisher.publish(TYPE, downtime(`b${i}`), { site: "lyon", key: "m1" });
    await until("all 20 handled", () => handled.size === 20, { timeoutMs: 30_000 });
    assert.ok(statuses.some((s) => s.type === "consumer_recreated"));
    const info = await jsm.consumers.info(STREAM, DURABLE);
    assert.equal(info.config.ack_policy, AckPolicy.Explicit);
    for (let i = 0; i < 10; i++) assert.equal(handled.get(`a${i}`), 1, `a${i} not handled again`);
    await until("acked on the new durable", async () => {
      const i = await jsm.consumers.info(STREAM, DURABLE);
      return i.ack_floor.stream_seq === 20 && i.num_ack_pending === 0;
    });
    assert.equal(consumer.state, "running");
  });

  for (const how of ["paused and resumed", "disconnected while paused"] as const)
    test(`ordered, ${how}: what an earlier consume never received is delivered again first and in stream order, not after its ack wait behind later events of its key`, async (t) => {
      const { server, nc, js, jsm } = await withJetStream(t);
      // A long ack wait: left to it, the lost events would come back a minute later, after e4 and e5.
      await setup(jsm, { ack_wait: nanos(60_000), max_deliver: -1 });
      const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
      const publish = async (from: number, to: number) => {
        for (let i = from; i < to; i++)
          await publisher.publish(TYPE, downtime(`e${i}`), { site: "lyon", key: "m1" });
      };
      const handled: string[] = [];
      const consumer = consumerFor(t, nc, {
        ordered: true,
        pullExpiresMs: 1_000,
        handlers: {
          [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
            handled.push(e.value.downtimeId);
          },
        },
      });
      await publish(0, 2);
      await consumer.start();
      await until("e0 and e1 handled", () => handled.length === 2);
      consumer.pause();
      await publish(2, 5);
      // e2 and e3 are delivered and never received — as when they were in flight when the connection
      // dropped, or went into a pull request of the consume that stopped for the pause: another
      // connection takes them and does not answer.
      const thief = await connectTo(server, {}, t);
      const taken: string[] = [];
      const durable = await jetstream(thief).consumers.get(STREAM, DURABLE);
      for await (const m of await durable.fetch({ max_messages: 2, expires: 2_000 })) {
        taken.push(m.subject);
        if (taken.length === 2) break;
      }
      assert.equal(taken.length, 2);
      await publish(5, 6);
      if (how === "disconnected while paused") {
        await nc.reconnect();
        await until("reconnected", () => !nc.isClosed() && nc.info !== undefined);
      }
      consumer.resume();
      await until("every event handled", () => handled.length === 6, {
        timeoutMs: 30_000,
        detail: () => handled.join(","),
      });
      assert.deepEqual(handled, ["e0", "e1", "e2", "e3", "e4", "e5"]);
    });

  test("a server restart mid-stream loses no event: every event is handled at least once", async (t) => {
    const { server, nc, js, jsm } = await withJetStream(t);
    await setup(jsm, { ack_wait: nanos(2_000), max_deliver: -1 });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const total = 400;
    const batch = publisher.batch();
    const ids: string[] = [];
    for (let i = 0; i < total; i++)
      ids.push((await batch.publish(TYPE, downtime(`e${i}`), { site: "lyon", key: `m${i % 5}` })).id);
    await batch.flush();

    const handled = new Set<string>();
    let calls = 0;
    const consumer = consumerFor(t, nc, {
      concurrency: 4,
      maxBuffered: 32,
      retryBackoff: { initialDelayMs: 100, jitter: 0 },
      handlers: {
        [TYPE]: async (e: ConsumedEvent<DowntimeStarted>) => {
          calls++;
          await sleep(5);
          handled.add(e.id);
        },
      },
    });
    const statuses: ConsumerStatus[] = [];
    void (async () => {
      for await (const s of consumer.status()) statuses.push(s);
    })();
    await consumer.start();
    await until("some handled", () => handled.size >= 60);
    await server.restart();
    await until("every event handled", () => handled.size === total, { timeoutMs: 60_000 });
    assert.deepEqual([...handled].sort(), [...ids].sort(), "every published event was handled at least once");
    assert.ok(calls >= total);
    assert.ok(statuses.some((s) => s.type === "disconnected"));
    assert.ok(statuses.some((s) => s.type === "reconnected"));
    assert.equal(consumer.state, "running");
    assert.equal((await jsm.streams.info(STREAM)).state.messages, total, "the stream kept every event");
    await until(
      "everything acked",
      async () => {
        const info = await jsm.consumers.info(STREAM, DURABLE);
        return info.num_ack_pending === 0 && info.num_pending === 0;
      },
      { timeoutMs: 30_000 },
    );
  });
});
