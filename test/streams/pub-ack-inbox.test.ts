/**
 * The publisher awaits PubAcks on an inbox of its own (streams/src/pub-ack-inbox.ts), not through a
 * nats.js request per publish. These tests drive it against a real nats-server and check that every
 * outcome is the one nats.js's request gave: the same PubAck, the same classified failure, the same
 * retry with the same id.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Msg, MsgCallback, NatsConnection, SubOpts, Subscription } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import { PubAckInbox } from "../../streams/src/pub-ack-inbox.js";
import { EventPublisher, PublishError } from "../../streams/src/publisher.js";
import { withJetStream } from "../harness/nats.js";
import { downtime, storedIds } from "./fixtures/downtime.js";

const STREAM = "MFG_MACHINE";
const TYPE = "mfg.machine.downtime_started.v1";
const codec = new EventCodec();
const target = { site: "lyon", line: "l1", key: "m1" };

/**
 * Refuses nats.js's request path on this connection (a publish that used it fails the test) until
 * the returned function gives it back (reading the stream uses it).
 */
function forbidRequests(nc: NatsConnection): () => void {
  const request = nc.request;
  nc.request = () => Promise.reject(new Error("the publisher must not send a nats.js request"));
  return () => {
    nc.request = request;
  };
}

/** Drops the replies the publisher's inbox would receive while `drop()` says so (a lost PubAck). */
function dropReplies(nc: NatsConnection, drop: (m: Msg) => boolean): void {
  const subscribe = nc.subscribe.bind(nc);
  nc.subscribe = (subject: string, opts?: SubOpts<Msg>): Subscription => {
    const callback = opts?.callback;
    if (!callback) return subscribe(subject, opts);
    const filtered: MsgCallback<Msg> = (err, m) => (err === null && drop(m) ? undefined : callback(err, m));
    return subscribe(subject, { ...opts, callback: filtered });
  };
}

describe("publish - PubAcks on the publisher's own inbox", () => {
  test("a publish is one message with a reply subject, answered by its PubAck, and nothing stays pending", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const allowRequests = forbidRequests(nc);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const first = await publisher.publish(TYPE, downtime("a"), target);
    assert.equal(first.ack.stream, STREAM);
    assert.equal(first.ack.seq, 1);
    assert.equal(first.ack.duplicate, false);
    const again = await publisher.publish(TYPE, downtime("a"), { ...target, id: first.envelope.id });
    assert.deepEqual([again.ack.seq, again.ack.duplicate], [1, true], "the stream's dedup still answers");
    assert.equal(PubAckInbox.of(nc)?.pending, 0);
    allowRequests();
    assert.deepEqual(await storedIds(nc, STREAM), [first.envelope.id]);
  });

  test("every publisher on a connection shares one inbox subscription", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const subjects: string[] = [];
    const subscribe = nc.subscribe.bind(nc);
    nc.subscribe = (subject: string, opts?: SubOpts<Msg>) => {
      subjects.push(subject);
      return subscribe(subject, opts);
    };
    const lyon = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    await lyon.publish(TYPE, downtime("a"), target);
    await lyon.forSite("paris").publish(TYPE, downtime("b"), { ...target, site: "paris" });
    await new EventPublisher(js, codec, { service: "other", site: "lyon" }).publish(
      TYPE,
      downtime("c"),
      target,
    );
    assert.equal(subjects.length, 1, `one subscription, not one per publisher: ${subjects.join(", ")}`);
    assert.match(subjects[0] ?? "", /^_INBOX\.[A-Za-z0-9]+\.\*$/);
  });

  test("the async window holds at most maxInFlight publishes awaiting their PubAck on the inbox", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    forbidRequests(nc);
    let peak = 0;
    const publish = nc.publish.bind(nc);
    nc.publish = (...args: Parameters<NatsConnection["publish"]>) => {
      publish(...args);
      peak = Math.max(peak, PubAckInbox.of(nc)?.pending ?? 0);
    };
    const batch = new EventPublisher(js, codec, { service: "bridge", site: "lyon" }).batch({
      maxInFlight: 16,
    });
    for (let i = 0; i < 1_000; i++) await batch.publish(TYPE, downtime(`d${i}`), target);
    assert.deepEqual(await batch.flush(), { acknowledged: 1_000, duplicates: 0 });
    assert.equal(peak, 16, "the window was used, and never exceeded");
    assert.equal(PubAckInbox.of(nc)?.pending, 0);
  });

  test("a lost PubAck times out, and the retry with the same id is answered as a duplicate", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    let replies = 0;
    dropReplies(nc, () => ++replies === 1);
    const registry = new Registry();
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      metrics: registry,
      ackTimeoutMs: 200,
      retry: { initialDelayMs: 10 },
    });
    const published = await publisher.publish(TYPE, downtime("once"), target);
    assert.equal(published.attempts, 2);
    assert.equal(published.ack.duplicate, true, "the first attempt was stored; its PubAck was lost");
    assert.deepEqual(await storedIds(nc, STREAM), [published.envelope.id]);
    const errors = await registry.getSingleMetric("threadline_publish_errors_total")?.get();
    assert.deepEqual(
      errors?.values.map((v) => [v.labels.code, v.value]),
      [["timeout", 1]],
    );
  });

  test("a PubAck arriving after its deadline is dropped, and later publishes are answered as usual", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const held: Msg[] = [];
    let holding = true;
    const subscribe = nc.subscribe.bind(nc);
    let deliver: ((m: Msg) => void) | undefined;
    nc.subscribe = (subject: string, opts?: SubOpts<Msg>) => {
      const callback = opts?.callback as MsgCallback<Msg>;
      deliver = (m) => callback(null, m);
      return subscribe(subject, {
        ...opts,
        callback: (err, m) => (holding && err === null ? void held.push(m) : callback(err, m)),
      });
    };
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      ackTimeoutMs: 100,
      retry: { attempts: 1 },
    });
    await assert.rejects(publisher.publish(TYPE, downtime("late"), target), (err: unknown) => {
      assert.ok(err instanceof PublishError);
      assert.equal(err.failure, "timeout");
      return true;
    });
    holding = false;
    for (const m of held) deliver?.(m); // the late PubAck: no one waits for it any more
    assert.equal(PubAckInbox.of(nc)?.pending, 0);
    const next = await publisher.publish(TYPE, downtime("next"), target);
    assert.equal(next.ack.seq, 2);
  });

  test("a publisher with a short ack timeout times out on time beside one with a long timeout on the same connection", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    dropReplies(nc, () => true);
    const slow = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      ackTimeoutMs: 20_000,
      retry: { attempts: 1 },
    });
    const quick = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      ackTimeoutMs: 200,
      retry: { attempts: 1 },
    });
    const waiting = slow.publish(TYPE, downtime("slow"), target).catch((e: unknown) => e);
    const started = Date.now();
    await assert.rejects(quick.publish(TYPE, downtime("quick"), target), (err: unknown) => {
      assert.ok(err instanceof PublishError);
      assert.equal(err.failure, "timeout");
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took < 10_000, `the 200 ms timeout fired after ${took} ms, not at the 20 s one's deadline`);
    await nc.close();
    assert.ok((await waiting) instanceof PublishError);
  });

  test("a compare-and-set publish sends its expected sequence; a stale one is refused and not retried", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    const allowRequests = forbidRequests(nc);
    const publisher = new EventPublisher(js, codec, { service: "bridge", site: "lyon" });
    const first = await publisher.publish(TYPE, downtime("a"), { ...target, expectedLastSubjectSequence: 0 });
    const second = await publisher.publish(TYPE, downtime("b"), {
      ...target,
      expectedLastSubjectSequence: first.ack.seq,
    });
    assert.equal(second.ack.seq, 2);
    await assert.rejects(
      publisher.publish(TYPE, downtime("c"), { ...target, expectedLastSubjectSequence: first.ack.seq }),
      (err: unknown) => {
        assert.ok(err instanceof PublishError);
        assert.equal(err.code, "PUBLISH_REJECTED");
        assert.equal(err.failure, "api_10071", "wrong last sequence");
        assert.equal(err.attempts, 1);
        return true;
      },
    );
    allowRequests();
    assert.equal((await storedIds(nc, STREAM)).length, 2);
  });

  test("a publish awaiting its PubAck when the connection closes fails as nats.js's request did, and is not retried", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: STREAM, subjects: ["mfg.machine.>"] });
    dropReplies(nc, () => true);
    const publisher = new EventPublisher(js, codec, {
      service: "bridge",
      site: "lyon",
      ackTimeoutMs: 30_000,
      retry: { attempts: 5, initialDelayMs: 10 },
    });
    const pending = publisher.publish(TYPE, downtime("closing"), target);
    await new Promise((r) => setTimeout(r, 100));
    await nc.close();
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof PublishError);
      // The first attempt ends with "connection closed" (transient), the second finds it closed.
      assert.equal(err.failure, "connection_closed");
      assert.equal(err.attempts, 2);
      return true;
    });
    assert.equal(PubAckInbox.of(nc)?.pending, 0);
  });
});
