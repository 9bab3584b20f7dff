/**
 * A page's read of a stream: within its cap it keeps the newest events (what just happened), says it
 * was cut, and reads a window that fits whole.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { EventCodec } from "../../contracts/src/index.js";
import { scanEvents } from "../../services/ops-console/src/views/scan.js";
import { productionReport, startConsoleFixture } from "./fixtures/console.js";

const f = await startConsoleFixture();
const codec = new EventCodec();
const order = "WH/MO/07001";
for (let i = 1; i <= 12; i++)
  await f.publish("mfg.production.production_reported.v1", productionReport(order, String(i)), {
    line: "line1",
    machine: "filler1",
    key: order,
  });

const goods = async (o: { cap: number; since?: Date }) => {
  const seen: number[] = [];
  const scan = await scanEvents(
    f.nc,
    codec,
    { stream: "MFG_PRODUCTION", filter: "mfg.production.production_reported.>", ...o },
    (e) => seen.push(Number((e.value as { goodQuantity: { value: string } }).goodQuantity.value)),
  );
  return { seen, scan };
};

test("more events than the cap: the newest are read, oldest first, and the read says it was cut", async () => {
  const { seen, scan } = await goods({ cap: 5 });
  assert.deepEqual(seen, [8, 9, 10, 11, 12]);
  assert.equal(scan.truncated, true);
});

test("a window that fits in the cap is read whole and not said to be cut", async () => {
  const whole = await goods({ cap: 100 });
  assert.deepEqual(whole.seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(whole.scan.truncated, false);
  // From the newest `cap` back to a window's start older than them all: covered, not cut.
  const covered = await goods({ cap: 12, since: new Date(Date.now() - 3_600_000) });
  assert.equal(covered.seen.length, 12);
  assert.equal(covered.scan.truncated, false);
});

test("a stream that does not exist reads nothing", async () => {
  const scan = await scanEvents(f.nc, codec, { stream: "MFG_NOPE" }, () => assert.fail("no event"));
  assert.deepEqual(scan, { read: 0, undecodable: 0, truncated: false });
});

test("a stored message that is not an event is skipped by the pages, logged and counted once", async () => {
  // Not an event: no CloudEvents headers, bytes that are no Avro single object.
  await jetstream(f.nc).publish("mfg.production.production_reported.plant1.line1", "not an event");
  const viola = await f.signIn("viola");
  for (let i = 0; i < 2; i++) assert.equal((await viola.get("/api/orders")).status, 200);
  const metrics = await (await fetch(`${f.url}/metrics`)).text();
  assert.match(metrics, /threadline_console_unreadable_messages_total\{stream="MFG_PRODUCTION"\} 1\n/);
});
