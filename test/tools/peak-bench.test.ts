import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPeakBench, runPeakBench } from "../../tools/bench/peak.js";
import { BENCHES } from "../../tools/cli/bench.js";

// The peak bench end to end at a tiny size: two plant leaf nodes, the hub sourcing them, the
// connector draining the backlog into the Odoo simulator. What it must show whatever the machine:
// nothing lost or doubled, and the lag gauges telling JetStream's truth. No timing is asserted.
test("threadline bench --only peak: a plants' backlog drains into Odoo once each, the lag gauges agreeing with JetStream", async () => {
  assert.ok(BENCHES.some((b) => b.name === "peak"));
  const concurrency = 8;
  // Refreshes every 500 ms instead of 5 s: several of them within the few seconds of this drain.
  const r = await runPeakBench({
    reports: 50,
    orders: 10,
    plants: 2,
    concurrency,
    infoIntervalMs: 500,
    sampleMs: 100,
  });
  const v = r.verified;

  // The whole backlog sat in the hub, sourced from both plants, before the connector started.
  assert.equal(v.hubReports, 50);
  assert.equal(v.pendingAtStart, 50);
  // Odoo: one complete posting record per report, with its quantity; every order counts its reports.
  assert.deepEqual(
    [v.postings, v.distinctIds, v.pending, v.quantityMismatches, v.orderMismatches],
    [50, 50, 0, 0, 0],
  );
  assert.deepEqual([v.productionPosted, v.applied, v.alreadyApplied], [50, 50, 0]);
  assert.deepEqual([v.deadLettered, v.dlqMessages], [0, 0]);
  assert.equal(v.exactlyOnce, true);

  // Both gauges held values JetStream reported within their refresh window (± the postings at
  // once) at every sample, and read its 0 once the backlog was gone.
  assert.equal(r.gauges.length, 2);
  for (const g of r.gauges) {
    assert.ok(g.maxUnexplained <= concurrency, `${g.metric}: ${g.maxUnexplained} off JetStream`);
    assert.equal(g.final, 0, `${g.metric} after the drain`);
  }
  assert.equal(v.metricsTrue, true);

  assert.ok(r.samples > 0 && r.rssMb.min > 0 && r.heapMb.max >= r.heapMb.min);
  assert.ok(r.calls >= 50 && r.failedCalls === 0);
  const text = formatPeakBench(r);
  assert.match(text, /nothing lost or doubled; metrics true throughout/);
  assert.match(text, /from 2 plant leaf nodes/);
});
