/**
 * The dead-letter codec on its own (no server): what a consumer writes, what readers get back, and
 * the error when a message is not a dead letter. consume.test.ts checks the same headers end to end.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import {
  type DeadLetterFields,
  deadLetterHeaders,
  NotADeadLetterError,
  readDeadLetter,
} from "../../streams/src/dead-letter.js";

function original() {
  const h = natsHeaders();
  h.set("ce-id", "01JD0000000000000000000000");
  h.set("ce-type", "mfg.production.production_reported.v1");
  h.append("x-note", "one");
  h.append("x-note", "two");
  h.set("Nats-Msg-Id", "01JD0000000000000000000000");
  h.set("Nats-Expected-Stream", "MFG_PRODUCTION");
  return h;
}

const fields: DeadLetterFields = {
  stream: "MFG_PRODUCTION",
  sequence: 42,
  subject: "mfg.production.production_reported.lyon.l1.m1",
  consumer: "odoo-connector-production-reported",
  deliveries: 3,
  code: "MAX_DELIVERIES",
  message: "failed 3 time(s); last error: timeout talking to the ERP",
  firstFailureAt: new Date("2026-11-30T08:00:00.000Z"),
  lastFailureAt: new Date("2026-11-30T08:00:07.500Z"),
  headers: original(),
};

function notADeadLetter(fn: () => unknown): NotADeadLetterError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof NotADeadLetterError, `expected NotADeadLetterError, got ${e}`);
    return e;
  }
  assert.fail("expected a NotADeadLetterError");
}

describe("dead-letter codec - written by the consumer, read by everyone else", () => {
  test("the wire headers are the Threadline-Dlq-* names, with counts as integers and times as ISO-8601", () => {
    const h = deadLetterHeaders(fields);
    assert.equal(h.get("Threadline-Dlq-Stream"), "MFG_PRODUCTION");
    assert.equal(h.get("Threadline-Dlq-Sequence"), "42");
    assert.equal(h.get("Threadline-Dlq-Subject"), "mfg.production.production_reported.lyon.l1.m1");
    assert.equal(h.get("Threadline-Dlq-Consumer"), "odoo-connector-production-reported");
    assert.equal(h.get("Threadline-Dlq-Deliveries"), "3");
    assert.equal(h.get("Threadline-Dlq-Code"), "MAX_DELIVERIES");
    assert.equal(h.get("Threadline-Dlq-Message"), "failed 3 time(s); last error: timeout talking to the ERP");
    assert.equal(h.get("Threadline-Dlq-First-Failure"), "2026-11-30T08:00:00.000Z");
    assert.equal(h.get("Threadline-Dlq-Last-Failure"), "2026-11-30T08:00:07.500Z");
  });

  test("the original headers are kept, every value of each, but not its Nats-* server directives", () => {
    const h = deadLetterHeaders(fields);
    assert.equal(h.get("ce-id"), "01JD0000000000000000000000");
    assert.deepEqual(h.values("x-note"), ["one", "two"]);
    assert.equal(h.has("Nats-Msg-Id"), false);
    assert.equal(h.has("Nats-Expected-Stream"), false);
  });

  test("a message without headers becomes a dead letter with only the Threadline-Dlq-* headers", () => {
    const h = deadLetterHeaders({ ...fields, headers: undefined });
    assert.equal(h.keys().length, 9);
    assert.ok(h.keys().every((k) => k.startsWith("Threadline-Dlq-")));
  });

  test("a reason with line breaks is flattened and a long one cut to 1024 characters", () => {
    const h = deadLetterHeaders({
      ...fields,
      code: "BAD\r\nCODE",
      message: `first\nsecond ${"x".repeat(2000)}`,
    });
    assert.equal(h.get("Threadline-Dlq-Code"), "BAD CODE");
    const message = h.get("Threadline-Dlq-Message");
    assert.equal(message.length, 1024);
    assert.ok(message.startsWith("first second xxx"));
    assert.ok(message.endsWith("..."));
  });

  test("reading gives back every field, the original headers and the bytes, from a consumed or a stored message", () => {
    const data = new TextEncoder().encode("the original bytes");
    const h = deadLetterHeaders(fields);
    h.set("Nats-Msg-Id", "MFG_PRODUCTION:42"); // set by the dead-letter publish
    for (const msg of [
      { headers: h, data },
      { header: h, data },
    ]) {
      const letter = readDeadLetter(msg);
      const { headers, data: bytes, ...rest } = letter;
      const { headers: _, ...expected } = fields;
      assert.deepEqual(rest, expected);
      assert.equal(bytes, data);
      assert.deepEqual(headers.keys().sort(), ["ce-id", "ce-type", "x-note"]);
      assert.deepEqual(headers.values("x-note"), ["one", "two"]);
    }
  });

  test("a producer's refusal has no sequence: written without Threadline-Dlq-Sequence, read back with sequence undefined", () => {
    const h = deadLetterHeaders({
      ...fields,
      stream: "MFG_MASTERDATA",
      sequence: undefined,
      subject: "mfg.masterdata.unit.lyon.42",
      consumer: "odoo-connector-inbound",
      deliveries: 1,
      code: "CONNECTOR_UNIT_FACTOR_ZERO",
      headers: undefined,
    });
    assert.equal(h.has("Threadline-Dlq-Sequence"), false);
    assert.equal(h.keys().length, 8);
    const letter = readDeadLetter({ headers: h, data: new Uint8Array() });
    assert.equal(letter.sequence, undefined);
    assert.deepEqual(
      [letter.stream, letter.subject, letter.consumer, letter.deliveries, letter.code],
      [
        "MFG_MASTERDATA",
        "mfg.masterdata.unit.lyon.42",
        "odoo-connector-inbound",
        1,
        "CONNECTOR_UNIT_FACTOR_ZERO",
      ],
    );
  });

  test("an empty reason message reads as empty, not as a broken dead letter", () => {
    const h = deadLetterHeaders(fields);
    h.delete("Threadline-Dlq-Message");
    assert.equal(readDeadLetter({ headers: h, data: new Uint8Array() }).message, "");
  });

  test("a message that is not a dead letter is refused with NOT_A_DEAD_LETTER naming the header", () => {
    const none = notADeadLetter(() => readDeadLetter({ data: new Uint8Array() }));
    assert.equal(none.code, "NOT_A_DEAD_LETTER");
    assert.equal(none.header, "Threadline-Dlq-Stream");
    assert.match(none.message, /^not a dead letter: header Threadline-Dlq-Stream is missing/);

    const noCode = deadLetterHeaders(fields);
    noCode.delete("Threadline-Dlq-Code");
    assert.equal(
      notADeadLetter(() => readDeadLetter({ header: noCode, data: new Uint8Array() })).header,
      "Threadline-Dlq-Code",
    );

    const badSeq = deadLetterHeaders(fields);
    badSeq.set("Threadline-Dlq-Sequence", "4x2");
    const seq = notADeadLetter(() => readDeadLetter({ headers: badSeq, data: new Uint8Array() }));
    assert.equal(seq.header, "Threadline-Dlq-Sequence");
    assert.match(seq.message, /is not a positive integer \("4x2"\)/);

    const badTime = deadLetterHeaders(fields);
    badTime.set("Threadline-Dlq-Last-Failure", "yesterday");
    const time = notADeadLetter(() => readDeadLetter({ headers: badTime, data: new Uint8Array() }));
    assert.equal(time.header, "Threadline-Dlq-Last-Failure");
    assert.match(time.message, /is not an ISO-8601 time/);
  });
});
