/**
 * Specification: Threadline run as in production — nats-server with each service's least-privilege
 * user, the Odoo and plant simulators, the machine bridge and the Odoo connector, each its own
 * process started through its CLI — comes through a sequence of faults exactly (tools/chaos/
 * fault-run.ts, shortened here; `make chaos-cli` runs it with 30 s Odoo outages).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { runFaultRun } from "../../tools/chaos/fault-run.js";
import { SINGLE_SERVER_FAULTS } from "../../tools/chaos/faults.js";

// Its own bound: the whole run takes 3–4 minutes on two busy cores, near the suite's 5-minute default;
// every wait inside it is bounded, so a stuck run still ends with its findings.
test("fault run - Odoo refusing, answering 503 and hanging, connector and bridge killed, nats-server crashed, Odoo restored from a backup: totals equal the plant's, nothing twice, reconciliation exact, probes answered", {
  timeout: 600_000,
}, async (t) => {
  const lines: string[] = [];
  const faults = SINGLE_SERVER_FAULTS;
  const result = await runFaultRun({
    faults,
    outageMs: 8_000,
    settleMs: 3_000,
    downMs: 2_000,
    // A calmer plant than the demo's (a report per machine every 5 s), so a connector that opens its
    // breaker after 2 failures (not 5) and calls that time out sooner, to notice an 8 s outage
    // (a call fails after its retries, about 3 s).
    reportIntervalMs: 5_000,
    // A restarted connector takes its partitions over after its predecessor's lease (15 s by default)
    // and, for what the killed process held, its drain deadline (DRAIN_TIMEOUT_MS, 25 s by default): 5 s
    // keeps a killed connector's return within the 30 s every fault is given.
    connectorEnv: { ODOO_TIMEOUT_MS: "5000", ODOO_BREAKER_FAILURES: "2", DRAIN_TIMEOUT_MS: "5000" },
    print: (line) => lines.push(line),
  });
  for (const line of lines.filter((l) => l.startsWith("|"))) t.diagnostic(line);
  assert.deepEqual(
    result.invariants.filter((i) => !i.ok),
    [],
    `logs in ${result.workDir}\n${lines.join("\n")}`,
  );
  assert.deepEqual(
    result.faults.length,
    SINGLE_SERVER_FAULTS.length,
    "every fault injected and recovered from",
  );
  for (const f of result.faults.filter((f) => /^Odoo (refuses|answers 503)/.test(f.fault)))
    assert.match(f.noticed, /breaker open, \/readyz 503/, `${f.fault}: the connector said it was not ready`);
  // Before 2.14 (no consumer reset) a new owner requeues what its predecessor left outstanding once
  // the server holds none of that one's pull requests: at once when its connection is gone, else after
  // its pull expiry (30 s), after its lease (15 s). A documented limit of the floor (README, "Several
  // replicas"), not a loss.
  const version = execFileSync(process.env["THREADLINE_NATS_SERVER"] || "nats-server", ["--version"]);
  const hasReset = Number(/v2\.(\d+)\./.exec(version.toString())?.[1] ?? 99) >= 14;
  for (const f of result.faults) {
    const waitsPullExpiry = !hasReset && /^(odoo-connector killed|nats-server killed)/.test(f.fault);
    const bound = waitsPullExpiry ? 75_000 : 30_000;
    assert.ok(f.backMs !== null && f.backMs < bound, `${f.fault}: back to work after ${f.backMs} ms`);
  }
  rmSync(result.workDir, { recursive: true, force: true });
});
