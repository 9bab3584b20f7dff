/**
 * Business health from the streams: dead letters, the Odoo posting lag (a count's report to Odoo's
 * acceptance), missed holds, what was counted but not posted, and each durable's backlog — and a window
 * that is not one refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PROBE_DURABLE, productionReport, SITE, startConsoleFixture } from "./fixtures/console.js";

const f = await startConsoleFixture();
const viola = await f.signIn("viola");

test("the health page's figures: dead letters, posting lag, missed holds, unposted quantity, backlog", async () => {
  const order = "WH/MO/06001";
  const reportedAt = new Date(Date.now() - 90_000);
  const reportId = await f.publish(
    "mfg.production.production_reported.v1",
    { ...productionReport(order, "40"), reportedAt },
    { line: "line1", machine: "filler1", key: order },
  );
  await f.publish(
    "mfg.production.production_reported.v1",
    { ...productionReport(order, "25"), reportedAt: new Date() },
    { line: "line1", machine: "filler1", key: order },
  );
  // Odoo accepted the first count 30 s after it was reported; the second is not posted yet.
  await f.publish(
    "mfg.production.production_posted.v1",
    {
      sourceEventId: reportId,
      orderRef: order,
      odooOrderId: 6001n,
      lot: null,
      postedGoodQuantity: { value: "40", uom: "Units" },
      postedRejectQuantity: { value: "0", uom: "Units" },
      odooRecords: [],
      postedAt: new Date(reportedAt.getTime() + 30_000),
    },
    { key: order },
  );
  await f.publish(
    "mfg.quality.nonconformance_raised.v1",
    {
      nonconformanceId: "NC-ESC-1",
      site: SITE,
      source: "CUSTOMER",
      severity: "CRITICAL",
      defectCode: "HOLD-ESCAPE",
      description: "held lot LOT-9 left in WH/OUT/00009",
      product: null,
      lot: "LOT-9",
      orderRef: null,
      quantity: null,
      triggeredBy: null,
      raisedBy: "quality-service",
      raisedAt: new Date(),
    },
    { key: "LOT-9" },
  );
  await f.deadLetter("WH/MO/06002");

  const res = await viola.get("/api/health?window=6h");
  assert.equal(res.status, 200, res.text);
  const o = res.body;
  assert.equal(o.buckets.length, 24);
  const sum = (k: string) => o.buckets.reduce((n: number, b: Record<string, number>) => n + (b[k] ?? 0), 0);
  assert.equal(sum("deadLetters"), 1);
  assert.equal(sum("missedHolds"), 1);
  assert.equal(sum("postings"), 1);
  const lag = o.buckets.find((b: { postings: number }) => b.postings > 0);
  assert.equal(lag.lagP50Seconds, 30);
  assert.equal(lag.lagMaxSeconds, 30);
  const unposted = o.unposted.find((u: { orderRef: string }) => u.orderRef === order);
  assert.deepEqual(
    { counted: unposted.counted, posted: unposted.posted, unposted: unposted.unposted, uom: unposted.uom },
    { counted: 65, posted: 40, unposted: 25, uom: "Units" },
  );
  const probe = o.backlog.find((b: { durable: string }) => b.durable === PROBE_DURABLE);
  assert.ok(probe, JSON.stringify(o.backlog));
  assert.equal(probe.stream, "MFG_PRODUCTION");
  assert.equal(typeof probe.pending, "number");
  assert.ok(o.backlogSamples.length >= 1, "the backlog is sampled from the start");
});

test("a window that is not one is refused, naming it", async () => {
  for (const window of ["yesterday", "0h", "30d"]) {
    const res = await viola.get(`/api/health?window=${window}`);
    assert.equal(res.status, 400, window);
    assert.equal(res.body.error.code, "CONSOLE_REQUEST_INVALID");
    assert.match(res.body.error.message, /^query\.window: /);
  }
});
