/**
 * The runtime SDK's publisher against a real nats-server: dedup by id, validation before sending,
 * retries across a server restart, the async window.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/nats-core";
import { type Counter, Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import { PayloadInvalidError } from "../../contracts/src/errors.js";
import type { DowntimeStarted, ProductionOrderCompleted } from "../../contracts/src/events.generated.js";
import { metricsFor } from "../../streams/src/metrics.js";
import { EventPublisher, PublishBatchError, PublishError } from "../../streams/src/publisher.js";
import { withJetStream } from "../harness/nats.js";
import { downtime, storedIds } from "./fixtures/downtime.js";

const STREAM = "MFG_MACHINE";
const TYPE = "mfg.machine.downtime_started.v1";
const codec = new EventCodec();
const target = { site: "lyon", line: "l1", key: "m1" };

async function counterValue(counter: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

describe("publish - dedup and validation", () => {
  test("publishing the same id twice stores one message and the second PubAck says duplicate", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const registry = new Registry();
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon", metrics: registry });
    const first = await publisher.publish(TYPE, downtime("d1"), target);
    const second = await publisher.publish(TYPE, downtime("d1"), { ...target, id: first.envelope.id });
    assert.equal(first.ack.duplicate, false);
    assert.equal(second.ack.duplicate, true);
    assert.equal(second.ack.seq, first.ack.seq);
    assert.deepEqual(await storedIds(nc, STREAM), [first.envelope.id]);
    const m = metricsFor(registry);
    assert.equal(await counterValue(m.published, { duplicate: "false", stream: STREAM }), 1);
    assert.equal(await counterValue(m.published, { duplicate: "true", stream: STREAM }), 1);
  });

  test("an invalid payload raises PayloadInvalidError naming the field, and nothing is sent", async (t) => {
    const { js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const bad = { ...downtime("d1"), category: "TEA_BREAK" } as unknown as DowntimeStarted;
    await assert.rejects(publisher.publish(TYPE, bad, target), (err: unknown) => {
      assert.ok(err instanceof PayloadInvalidError);
      assert.deepEqual(
        err.problems.map((p) => p.path),
        ["category"],
      );
      return true;
    });
    await assert.rejects(publisher.publishAsync(TYPE, bad, target), PayloadInvalidError);
    assert.deepEqual(await publisher.flush(), { acknowledged: 0, duplicates: 0 });
    assert.equal((await jsm.streams.info(STREAM)).state.messages, 0);
  });
});

describe("publish - retries", () => {
  test("publishes during a server restart succeed after retries and each is stored exactly once", async (t) => {
    const { nc, server, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const registry = new Registry();
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      metrics: registry,
      ackTimeoutMs: 500,
      retry: { attempts: 100, maxElapsedMs: 30_000, initialDelayMs: 50, maxDelayMs: 500 },
    });
    const ids: string[] = [];
    let restarted = false;
    const publishing = (async () => {
      // Keep publishing until well after the server is back.
      for (let i = 0; !restarted || i % 50 !== 0; i++) {
        const p = await publisher.publish(TYPE, downtime(`d${i}`), target);
        ids.push(p.envelope.id);
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await server.restart();
    restarted = true;
    await publishing;
    const stored = await storedIds(nc, STREAM);
    assert.equal(stored.length, ids.length, "one stored message per publish");
    assert.deepEqual([...stored].sort(), [...ids].sort());
    assert.ok((await counterValue(metricsFor(registry).publishRetries)) > 0, "some publishes were retried");
  });

  test("a retry after a lost PubAck carries the same id and is deduplicated by the stream", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const msgIds: string[] = [];
    // The first PubAck is lost on its way back: the server stored the event, the client saw a timeout.
    const lossy = new Proxy(js, {
      get(target, prop, receiver) {
        if (prop !== "publish") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<JetStreamClient["publish"]>) => {
          msgIds.push(args[2]?.msgID ?? "");
          const ack = await target.publish(...args);
          if (msgIds.length === 1) throw new natsErrors.TimeoutError();
          return ack;
        };
      },
    });
    const publisher = new EventPublisher(lossy, codec, {
      service: "bridge",
      site: "lyon",
      retry: { initialDelayMs: 10 },
    });
    const published = await publisher.publish(TYPE, downtime("once"), target);
    assert.equal(published.attempts, 2);
    assert.equal(published.ack.duplicate, true, "the retry was recognised as a duplicate");
    assert.deepEqual(msgIds, [published.envelope.id, published.envelope.id]);
    assert.deepEqual(await storedIds(nc, STREAM), [published.envelope.id]);
  });

  test("a retry that finds its first attempt still being stored (a clustered stream's 10158) is retried, not refused", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    let calls = 0;
    // Attempt 1 times out while the stream still stores it; attempt 2 meets it "in process"; 3 is acked.
    const slow = new Proxy(js, {
      get(target, prop, receiver) {
        if (prop !== "publish") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<JetStreamClient["publish"]>) => {
          calls += 1;
          if (calls === 1) {
            await target.publish(...args);
            throw new natsErrors.TimeoutError();
          }
          if (calls === 2)
            throw new JetStreamApiError({
              code: 409,
              err_code: 10158,
              description: "duplicate message id is in process",
            });
          return target.publish(...args);
        };
      },
    });
    const publisher = new EventPublisher(slow, codec, {
      service: "bridge",
      site: "lyon",
      retry: { initialDelayMs: 10 },
    });
    const published = await publisher.publish(TYPE, downtime("in-process"), target);
    assert.equal(published.attempts, 3);
    assert.equal(published.ack.duplicate, true);
    assert.deepEqual(await storedIds(nc, STREAM), [published.envelope.id]);
  });

  test("a publish issued while the server is down is retried with the same id until the server is back", async (t) => {
    const { nc, server, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const registry = new Registry();
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      metrics: registry,
      ackTimeoutMs: 300,
      retry: { attempts: 100, initialDelayMs: 50, maxDelayMs: 200 },
    });
    await server.kill();
    const pending = publisher.publish(TYPE, downtime("while-down"), target);
    await new Promise((r) => setTimeout(r, 1_200));
    await server.start();
    const published = await pending;
    assert.ok(published.attempts > 1, `took ${published.attempts} attempts`);
    assert.deepEqual(await storedIds(nc, STREAM), [published.envelope.id]);
    const m = metricsFor(registry);
    assert.equal(await counterValue(m.publishRetries), published.attempts - 1);
    assert.ok((await counterValue(m.publishErrors, { event_type: TYPE })) >= published.attempts - 1);
  });

  test("a publish that can never succeed gives up under the retry policy with a PublishError", async (t) => {
    const { js } = await withJetStream(t); // no stream at all: no responders
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      retry: { attempts: 3, initialDelayMs: 10 },
    });
    await assert.rejects(publisher.publish(TYPE, downtime("nowhere"), target), (err: unknown) => {
      assert.ok(err instanceof PublishError);
      assert.equal(err.code, "PUBLISH_RETRIES_EXHAUSTED");
      assert.equal(err.attempts, 3);
      assert.equal(err.failure, "jetstream_unavailable");
      return true;
    });
  });
});

describe("publish - async window", () => {
  test("the async window never has more than maxInFlight publishes awaiting a PubAck", async (t) => {
    const { js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    let current = 0;
    let peak = 0;
    // Count publishes in flight where they happen: at the JetStream client.
    const counting = new Proxy(js, {
      get(target, prop, receiver) {
        if (prop !== "publish") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<JetStreamClient["publish"]>) => {
          current++;
          peak = Math.max(peak, current);
          try {
            return await target.publish(...args);
          } finally {
            current--;
          }
        };
      },
    });
    const publisher = new EventPublisher(counting, codec, { service: "bridge", site: "lyon" });
    const batch = publisher.batch({ maxInFlight: 16 });
    const total = 2_000;
    for (let i = 0; i < total; i++) {
      await batch.publish(TYPE, downtime(`d${i}`), target);
      assert.ok(batch.inFlight <= 16);
    }
    const result = await batch.flush();
    assert.deepEqual(result, { acknowledged: total, duplicates: 0 });
    assert.equal(batch.inFlight, 0);
    assert.equal(peak, 16, "the window was used, and never exceeded");
    assert.equal((await jsm.streams.info(STREAM)).state.messages, total);
  });

  test("flush rejects with PublishBatchError listing each publish that failed", async (t) => {
    const { js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] }); // no MFG_PRODUCTION stream
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      retry: { attempts: 2, initialDelayMs: 10 },
    });
    const completed: ProductionOrderCompleted = {
      orderRef: "WH/MO/00042",
      odooOrderId: 42n,
      product: { code: "BRK-220", name: "Brake disc", odooId: 7n },
      producedQuantity: { value: "10", uom: "Units" },
      scrappedQuantity: null,
      lot: null,
      lots: [],
      equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: null },
      completedAt: new Date("2026-11-30T10:00:00.000Z"),
    };
    const failed: string[] = [];
    for (let i = 0; i < 5; i++) await publisher.publishAsync(TYPE, downtime(`d${i}`), target);
    for (let i = 0; i < 3; i++)
      failed.push(
        (await publisher.publishAsync("mfg.production.production_order_completed.v1", completed, target)).id,
      );
    await assert.rejects(publisher.flush(), (err: unknown) => {
      assert.ok(err instanceof PublishBatchError);
      assert.equal(err.succeeded, 5);
      assert.deepEqual(err.failures.map((f) => f.envelope.id).sort(), [...failed].sort());
      assert.ok(err.failures.every((f) => f.error instanceof PublishError));
      return true;
    });
    assert.deepEqual(
      await publisher.flush(),
      { acknowledged: 0, duplicates: 0 },
      "failures are reported once",
    );
  });
});

describe("publish - many at once", () => {
  test("publishMany validates every event before sending any, then stores them all through the window", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const batch = publisher.batch({ maxInFlight: 8 });
    const good = Array.from(
      { length: 50 },
      (_, i) => ({ eventType: TYPE, payload: downtime(`d${i}`), target }) as const,
    );
    const bad = {
      eventType: TYPE,
      payload: { ...downtime("x"), category: "NAP" } as unknown as DowntimeStarted,
      target,
    } as const;
    await assert.rejects(batch.publishMany([...good.slice(0, 3), bad]), PayloadInvalidError);
    assert.deepEqual(await batch.flush(), { acknowledged: 0, duplicates: 0 });
    assert.deepEqual(await storedIds(nc, STREAM), []);
    const envelopes = await batch.publishMany(good);
    assert.ok(batch.inFlight <= 8);
    assert.deepEqual(await batch.flush(), { acknowledged: 50, duplicates: 0 });
    assert.deepEqual(
      await storedIds(nc, STREAM),
      envelopes.map((e) => e.id),
    );
  });
});
