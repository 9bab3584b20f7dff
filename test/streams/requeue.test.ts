/**
 * Specification: requeueInStreamOrder (streams/src/requeue.ts), the new partition owner's stand-in
 * for consumer reset before 2.14. Whatever order the outstanding deliveries of a durable would fall
 * due in — some already given back, some held by a consumer that is gone — after the requeue the next
 * pulls receive exactly the outstanding ones, in stream order, before anything new; what was
 * acknowledged is not delivered again. On every server (the floor included).
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { AckPolicy, type Consumer, type JsMsg } from "@nats-io/jetstream";
import { REQUEUE_MAX_SPAN, requeueInStreamOrder } from "../../streams/src/requeue.js";
import { withJetStream } from "../harness/nats.js";

const STREAM = "REQUEUE";
const DURABLE = "worker-p0";

/** The stream and its durable, with a long ack wait: without a requeue nothing outstanding would come back soon. */
async function setUp(t: TestContext) {
  const fixture = await withJetStream(t);
  await fixture.jsm.streams.add({ name: STREAM, subjects: ["requeue.>"] });
  await fixture.jsm.consumers.add(STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    ack_wait: 120_000_000_000,
    filter_subject: "requeue.work.>",
  });
  return fixture;
}

/** The first `count` deliveries of the durable, received and not acknowledged. */
async function take(consumer: Consumer, count: number): Promise<JsMsg[]> {
  const taken: JsMsg[] = [];
  for await (const m of await consumer.fetch({ max_messages: count, expires: 2_000 })) {
    taken.push(m);
    if (taken.length === count) break;
  }
  return taken;
}

test("outstanding deliveries come back first and in stream order after a requeue, acknowledged ones never", async (t) => {
  const { js, jsm, nc } = await setUp(t);
  for (let i = 1; i <= 6; i++) {
    await js.publish(`requeue.work.${i}`, `m${i}`);
    // Not the durable's: a sequence between its own that the requeue must pass over.
    await js.publish("requeue.other", "x");
  }
  const consumer = await js.consumers.get(STREAM, DURABLE);
  const taken = await take(consumer, 6);
  const bySubject = (n: number) => taken.find((m) => m.subject === `requeue.work.${n}`) as JsMsg;
  // The previous owner acknowledged m3, gave back m5 then m2 (due at once, queued in that order), and
  // held the rest when it vanished.
  await bySubject(3).ackAck();
  bySubject(5).nak();
  bySubject(2).nak();
  await nc.flush();

  const info = await jsm.consumers.info(STREAM, DURABLE);
  assert.equal(info.num_ack_pending, 5);
  const requeued = await requeueInStreamOrder(nc, info);
  assert.deepEqual(requeued, { from: 1, to: 11, outstanding: 5, kept: 0 });
  await js.publish("requeue.work.7", "m7");

  const next: string[] = [];
  for await (const m of await consumer.fetch({ max_messages: 6, expires: 3_000 })) {
    next.push(m.string());
    await m.ackAck();
    if (next.length === 6) break;
  }
  assert.deepEqual(next, ["m1", "m2", "m4", "m5", "m6", "m7"]);
  assert.equal((await jsm.consumers.info(STREAM, DURABLE)).num_ack_pending, 0);
});

test("a delivery the caller still holds is left alone: not sent again, its delivery count unspent", async (t) => {
  const { js, jsm, nc } = await setUp(t);
  for (let i = 1; i <= 4; i++) await js.publish(`requeue.work.${i}`, `m${i}`);
  const consumer = await js.consumers.get(STREAM, DURABLE);
  const taken = await take(consumer, 4);
  // m2 is still being handled here; m1, m3 and m4 were never received.
  const requeued = await requeueInStreamOrder(
    nc,
    await jsm.consumers.info(STREAM, DURABLE),
    (seq) => seq === 2,
  );
  assert.deepEqual(requeued, { from: 1, to: 4, outstanding: 4, kept: 1 });

  const next: { body: string; deliveries: number }[] = [];
  for await (const m of await consumer.fetch({ max_messages: 3, expires: 3_000 })) {
    next.push({ body: m.string(), deliveries: m.info.deliveryCount });
    await m.ackAck();
    if (next.length === 3) break;
  }
  assert.deepEqual(next, [
    { body: "m1", deliveries: 2 },
    { body: "m3", deliveries: 2 },
    { body: "m4", deliveries: 2 },
  ]);
  const [held] = taken.filter((m) => m.string() === "m2");
  await held?.ackAck();
  const info = await jsm.consumers.info(STREAM, DURABLE);
  assert.equal(info.num_ack_pending, 0);
  assert.equal(info.num_redelivered, 0);
});

test("nothing to requeue: nothing outstanding, or a span too wide to nak one by one", async (t) => {
  const { jsm, nc } = await withJetStream(t);
  await jsm.streams.add({ name: STREAM, subjects: ["requeue.>"] });
  const info = await jsm.consumers.add(STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit });
  assert.equal(await requeueInStreamOrder(nc, info), undefined);
  const wide = {
    ...info,
    num_ack_pending: 1,
    ack_floor: { ...info.ack_floor, stream_seq: 0 },
    delivered: { ...info.delivered, stream_seq: REQUEUE_MAX_SPAN + 1 },
  };
  assert.equal(await requeueInStreamOrder(nc, wide), undefined);
});
