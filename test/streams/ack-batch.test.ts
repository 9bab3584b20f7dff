/**
 * Acks of one event-loop turn are written together (one socket write), but never more than 64 wait:
 * a turn that settles thousands of messages must not keep every one of them alive until it ends.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { JsMsg } from "@nats-io/jetstream";
import { AckBatch } from "../../streams/src/consumer/acks.js";
import { silentLogger } from "../../streams/src/logger.js";

function message(acked: number[], seq: number, fails = false): JsMsg {
  return {
    info: { streamSequence: seq },
    ack: () => {
      if (fails) throw new Error("connection closed");
      acked.push(seq);
    },
  } as unknown as JsMsg;
}

test("acks wait for the flush at the end of the turn, and are written at once when 64 wait", () => {
  const acked: number[] = [];
  const batch = new AckBatch(silentLogger);
  for (let seq = 1; seq <= 63; seq++) batch.add(message(acked, seq));
  assert.deepEqual(acked, [], "below the bound nothing is written before the end of the turn");
  batch.add(message(acked, 64));
  assert.equal(acked.length, 64, "the 64th ack writes all that wait");
  for (let seq = 65; seq <= 70; seq++) batch.add(message(acked, seq));
  batch.flush();
  assert.deepEqual(
    acked,
    Array.from({ length: 70 }, (_, i) => i + 1),
    "every ack written once, in order",
  );
});

test("an ack that fails is logged and does not stop the others", () => {
  const acked: number[] = [];
  const warnings: unknown[] = [];
  const log = { ...silentLogger, warn: (o: unknown) => warnings.push(o) } as typeof silentLogger;
  const batch = new AckBatch(log);
  batch.add(message(acked, 1));
  batch.add(message(acked, 2, true));
  batch.add(message(acked, 3));
  batch.flush();
  assert.deepEqual(acked, [1, 3]);
  assert.equal(warnings.length, 1);
});
