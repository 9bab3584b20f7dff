/** `threadline odoo reconcile --prom <file>`: prom-client's text, replacing the file atomically. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type TestContext, test } from "node:test";
import {
  type ReconcileReport,
  writeDriftMetrics,
} from "../../services/odoo-connector/src/reconcile/index.js";

function report(): ReconcileReport {
  const order = {
    orderRef: "WH/MO/00007",
    counted: { good: "1", reject: "0" },
    posted: 10,
    waiting: ["e-11"],
    findings: [{ kind: "output" as const, order: "WH/MO/00007", message: "more in Odoo by 0.3" }],
    outputDrift: "0.3",
  };
  const until = new Date("2026-12-01T10:00:00.000Z");
  return {
    since: new Date("2026-12-01T09:00:00.000Z"),
    until,
    events: 11,
    orders: [order],
    drifting: [order],
  };
}

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reconcile-prom-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("reconcile textfile - the gauges replace the previous file whole, and no temporary file is left", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "drift.prom");
  fs.writeFileSync(file, 'threadline_erp_drift_quantity{order_ref="WH/MO/00001"} 5\n');
  await writeDriftMetrics(report(), file);
  const text = fs.readFileSync(file, "utf8");
  assert.match(text, /^# TYPE threadline_erp_drift_quantity gauge$/m);
  assert.match(text, /^threadline_erp_drift_quantity\{order_ref="WH\/MO\/00007"\} 0\.3$/m);
  assert.doesNotMatch(text, /WH\/MO\/00001/);
  assert.match(text, /^threadline_erp_reconcile_findings\{kind="output"\} 1$/m);
  assert.match(text, /^threadline_erp_reconcile_unposted_events 1$/m);
  assert.match(text, /^threadline_erp_reconcile_completed_timestamp_seconds 1796119200$/m);
  assert.deepEqual(fs.readdirSync(dir), ["drift.prom"]);
});

test("reconcile textfile - a write that fails rejects and leaves no temporary file", async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, "drift.prom");
  fs.mkdirSync(target); // a directory cannot be replaced by a file
  await assert.rejects(writeDriftMetrics(report(), target), (err: NodeJS.ErrnoException) =>
    ["EISDIR", "ENOTEMPTY", "EEXIST", "EPERM"].includes(err.code ?? ""),
  );
  assert.deepEqual(fs.readdirSync(dir), ["drift.prom"]);
});
