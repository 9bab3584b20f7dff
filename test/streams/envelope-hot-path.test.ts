/**
 * The envelope read from a message's raw header block (wire-headers.ts) is the envelope nats.js's own
 * header object gives, and the block written for publishing is the one nats.js would write, for messages stored in and delivered by a real nats-server; and the fast path
 * is really taken with the nats.js this project pins (an upgrade that moves its fields fails here,
 * instead of quietly slowing every consumer down).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsMsg } from "@nats-io/jetstream";
import { Match, headers as natsHeaders } from "@nats-io/nats-core";
import { validate, version } from "uuid";
import {
  CE,
  type EventEnvelope,
  envelopeOf,
  fromHeaders,
  newEventId,
  toHeaders,
} from "../../streams/src/envelope.js";
import { headerBlock, headerValue } from "../../streams/src/wire-headers.js";
import { withJetStream } from "../harness/nats.js";

const envelope: EventEnvelope = {
  id: "0192f0c4-7d1a-7c3e-9a51-3f2b1c0d9e8f",
  source: "urn:threadline:bench:plant1",
  type: "mfg.production.production_reported.v1",
  time: new Date("2026-12-06T10:00:00.123Z"),
  subject: "WH/MO/00042 Größe: 5 µm",
  dataschema: "urn:threadline:schema:mfg.production.production_reported.v1:0000000000000000",
  traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
};

type Compare = (msg: JsMsg) => void;

/** Stores each header set in a stream and hands every delivered message to `check`. */
async function delivered(t: test.TestContext, sets: ReturnType<typeof natsHeaders>[], check: Compare) {
  const { js, jsm } = await withJetStream(t);
  await jsm.streams.add({ name: "WIRE", subjects: ["wire.>"] });
  for (const [i, h] of sets.entries()) {
    // Each its own dedup id: most sets are copies of one envelope.
    h.set(CE.msgId, `wire-${i}`);
    await js.publish("wire.x", new Uint8Array([1, 2, 3]), { headers: h });
  }
  const consumer = await js.consumers.get("WIRE");
  for (let seq = 1; seq <= sets.length; seq++) {
    const m = await consumer.next({ expires: 5_000 });
    assert.ok(m, `message ${seq} delivered`);
    check(m);
  }
}

/** The envelope (or the error) either way of reading. */
function both(msg: JsMsg): { fast: unknown; slow: unknown } {
  const read = (f: () => EventEnvelope) => {
    try {
      return f();
    } catch (err) {
      return { error: (err as Error).constructor.name, message: (err as Error).message };
    }
  };
  // The fast path first: it must not depend on nats.js having built its header object already.
  const fast = read(() => envelopeOf(msg));
  return { fast, slow: read(() => fromHeaders(msg.headers)) };
}

describe("envelope from the raw header block", () => {
  test("a delivered message's header block is readable with the pinned nats.js (the fast path is taken)", async (t) => {
    await delivered(t, [toHeaders(envelope)], (m) => {
      const block = headerBlock(m);
      assert.equal(typeof block, "string", "nats.js's internal fields moved: update wire-headers.ts");
      assert.match(block as string, /^NATS\/1\.0\r\n[\s\S]*\r\n\r\n$/);
      assert.deepEqual(envelopeOf(m), envelope);
    });
  });

  test("the same envelope, or the same error, as nats.js's header object gives", async (t) => {
    const odd = natsHeaders();
    // Repeated headers (the first value counts), padded values, unrelated headers, a colon in a value.
    odd.append("x-before", "a: b");
    for (const [k, v] of toHeaders(envelope)) for (const value of v) odd.append(k, `  ${value}  `);
    odd.append(CE.subject, "second value, ignored");
    odd.append(CE.type, "mfg.other.thing.v1");
    const missing = toHeaders(envelope);
    missing.delete(CE.source);
    const badTime = toHeaders(envelope);
    badTime.set(CE.time, "yesterday");
    const badType = toHeaders(envelope);
    badType.set(CE.type, "ProductionReported");
    const oldSpec = toHeaders(envelope);
    oldSpec.set(CE.specversion, "0.3");
    const onlyOther = natsHeaders();
    onlyOther.set("x-other", "1");
    let n = 0;
    await delivered(t, [toHeaders(envelope), odd, missing, badTime, badType, oldSpec, onlyOther], (m) => {
      const { fast, slow } = both(m);
      assert.deepEqual(fast, slow, `message ${++n}`);
    });
  });

  test("a message without headers is refused with the first missing header, like nats.js's object", () => {
    const noHeaders = { headers: undefined, msg: { _rdata: new Uint8Array([1]), _msg: { hdr: -1 } } };
    assert.throws(() => envelopeOf(noHeaders as never), /header ce-specversion is missing/);
    assert.equal(headerValue(noHeaders as never, CE.type), undefined);
  });

  test("a message of another shape (a test double, another nats.js) is read through its headers", () => {
    const double = { headers: toHeaders(envelope) };
    assert.equal(headerBlock(double as never), undefined);
    assert.deepEqual(envelopeOf(double as never), envelope);
    assert.equal(headerValue(double as never, CE.subject), envelope.subject);
    assert.equal(headerValue(double as never, "x-missing"), undefined);
  });

  test("a single header is read from the block as nats.js's get() reads it", async (t) => {
    await delivered(t, [toHeaders(envelope)], (m) => {
      for (const name of [CE.id, CE.subject, CE.type, CE.traceparent, "x-missing"])
        assert.equal(headerValue(m, name), m.headers?.get(name) || undefined, name);
    });
  });
});

describe("event ids", () => {
  test("newEventId gives distinct UUIDv7s in creation order, as uuid's own v7 does", () => {
    const ids = Array.from({ length: 50_000 }, () => newEventId());
    assert.equal(new Set(ids).size, ids.length, "no id twice");
    for (const id of ids.slice(0, 100)) assert.ok(validate(id) && version(id) === 7, `${id} is a UUIDv7`);
    const sorted = [...ids].sort();
    assert.deepEqual(sorted, ids, "each id sorts after the one before (monotonic within a millisecond)");
    const ms = Number.parseInt(ids[0]?.replace(/-/g, "").slice(0, 12) ?? "", 16);
    assert.ok(Math.abs(ms - Date.now()) < 60_000, "the timestamp is now");
  });
});

describe("headers written as the wire block", () => {
  test("an event published with toHeaders arrives with every header and value, deduplicated by its id", async (t) => {
    const { js, jsm } = await withJetStream(t);
    await jsm.streams.add({ name: "BLOCK", subjects: ["block.>"] });
    const first = await js.publish("block.x", new Uint8Array([7]), {
      headers: toHeaders(envelope),
      msgID: envelope.id,
    });
    // A JetStream publish with msgID sets Nats-Msg-Id on the given headers: the copy is a duplicate.
    const again = await js.publish("block.x", new Uint8Array([7]), {
      headers: toHeaders(envelope),
      msgID: envelope.id,
    });
    assert.equal(again.duplicate, true);
    const m = await (await js.consumers.get("BLOCK")).next({ expires: 5_000 });
    assert.ok(m);
    assert.equal(m.seq, first.seq);
    assert.deepEqual(envelopeOf(m), envelope);
    assert.deepEqual(fromHeaders(m.headers), envelope);
    assert.equal(m.headers?.get(CE.contentType), "application/avro");
    assert.equal(m.headers?.get(CE.msgId), envelope.id);
    assert.deepEqual(m.headers?.values(CE.msgId), [envelope.id], "set replaced it, not appended");
  });

  test("read or edited, the headers behave as nats.js's own object, and encode what was edited", () => {
    const h = toHeaders(envelope);
    assert.equal(h.get(CE.subject), envelope.subject);
    assert.equal(h.get("CE-SUBJECT", Match.IgnoreCase), envelope.subject);
    h.append("x-extra", "1");
    h.delete(CE.traceparent);
    const plain = natsHeaders();
    for (const [k, v] of h) for (const value of v) plain.append(k, value);
    const encode = (x: unknown) => Buffer.from((x as { encode(): Uint8Array }).encode()).toString("utf8");
    assert.equal(encode(h), encode(plain));
    assert.ok(!encode(h).includes("traceparent"));
  });

  test("the block written is the block nats.js would write", () => {
    const plain = natsHeaders();
    for (const [k, v] of toHeaders(envelope)) for (const value of v) plain.append(k, value);
    const encode = (x: unknown) => Buffer.from((x as { encode(): Uint8Array }).encode()).toString("utf8");
    assert.equal(encode(toHeaders(envelope)), encode(plain));
  });

  test("a value with a line break is refused as nats.js refuses it, before anything is sent", () => {
    assert.throws(() => toHeaders({ ...envelope, subject: "WH/MO/1\r\nx-injected: 1" }), /cannot contain/);
    const h = toHeaders(envelope);
    assert.throws(() => h.set(CE.msgId, "a\nb"), /cannot contain/);
  });
});
