/**
 * The bridge's event rules, without OPC UA: readings in, events out.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { counterDelta } from "../../services/machine-bridge/src/counters.js";
import type { AlarmNotification, Reading } from "../../services/machine-bridge/src/machine.js";
import { MachineTracker, type MachineTrackerOptions } from "../../services/machine-bridge/src/machine.js";
import { stateTable, TMC_STATE_NUMBERS } from "../../services/machine-bridge/src/profiles.js";
import { MAX_ARRAY_ELEMENTS, sampleFieldsOf, type Value } from "../../services/machine-bridge/src/values.js";

const T0 = Date.parse("2026-11-30T08:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
const S = TMC_STATE_NUMBERS;

function tracker(over: Partial<MachineTrackerOptions> = {}) {
  return new MachineTracker({
    key: "lyon/l1/m1",
    equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: "m1" },
    states: stateTable(TMC_STATE_NUMBERS),
    modes: new Map([[1, "PRODUCTION"]]),
    counters: { max: 999n, rolloverWindow: 0.1, uom: "Units" },
    hasGoodCounter: true,
    hasRejectCounter: true,
    categories: { JAM: "UNPLANNED" },
    defaultCategory: "UNCLASSIFIED",
    maxSamples: 3,
    ...over,
  });
}

function payloadOf<T>(e: { payload: unknown } | undefined): T {
  assert.ok(e, "expected an event");
  return e.payload as T;
}

/** A JavaScript value as the OPC UA edge would decode it (a whole number as an Int32, text as a String). */
function v(value: unknown): Value {
  if (value === null || value === undefined) return { kind: "null" };
  if (typeof value === "object" && "kind" in (value as object)) return value as Value;
  if (typeof value === "boolean") return { kind: "boolean", value };
  if (typeof value === "bigint") return { kind: "integer", type: "INT64", value };
  if (typeof value === "number")
    return Number.isInteger(value)
      ? { kind: "integer", type: "INT32", value: BigInt(value) }
      : { kind: "float", type: "DOUBLE", value };
  return { kind: "text", type: "STRING", value: String(value) };
}

const r = (signal: Reading["signal"], value: unknown, ms: number, extra: Partial<Reading> = {}): Reading => ({
  signal,
  value: v(value),
  sourceTime: at(ms),
  quality: "GOOD",
  ...extra,
});

describe("counters", () => {
  const spec = { max: 999n, rolloverWindow: 0.1 };
  test("an increase is the difference", () =>
    assert.deepEqual(counterDelta(10n, 15n, spec), { quantity: 5n, change: "increase" }));
  test("a short wrap past max is a rollover", () =>
    assert.deepEqual(counterDelta(995n, 3n, spec), { quantity: 8n, change: "rollover" }));
  test("a drop far from max is a reset: counting restarts from 0", () =>
    assert.deepEqual(counterDelta(500n, 3n, spec), { quantity: 3n, change: "reset" }));
  test("UInt64 counters are exact", () => {
    const max = 2n ** 64n - 1n;
    assert.deepEqual(counterDelta(max - 1n, 2n, { max, rolloverWindow: 0.1 }), {
      quantity: 4n,
      change: "rollover",
    });
  });
  test("summing the deltas of any sequence of increments through rollovers gives the true total", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 999 }),
        (steps, start) => {
          let value = BigInt(start);
          let total = 0n;
          let counted = 0n;
          for (const s of steps) {
            const next = (value + BigInt(s)) % 1000n;
            counted += counterDelta(value, next, spec).quantity;
            total += BigInt(s);
            value = next;
          }
          assert.equal(counted, total);
        },
      ),
    );
  });
});

describe("machine tracker", () => {
  test("a state change becomes MachineStateChanged with the previous state and source time", () => {
    const m = tracker();
    assert.equal(m.apply([r("state", S.EXECUTE, 0)]).length, 1); // UNDEFINED -> EXECUTE
    const [e, ...rest] = m.apply([
      r("state", S.HOLDING, 1000),
      r("stopReason", "JAM", 1000),
      r("stopReasonText", "Infeed jam", 1000),
    ]);
    assert.equal(e?.type, "mfg.machine.machine_state_changed.v1");
    assert.deepEqual(
      { ...(e?.payload as object), equipment: undefined },
      {
        equipment: undefined,
        state: "HOLDING",
        previousState: "EXECUTE",
        mode: "UNDEFINED",
        stopReason: { code: "JAM", text: "Infeed jam" },
        changedAt: at(1000),
      },
    );
    assert.equal(rest[0]?.type, "mfg.machine.downtime_started.v1");
    assert.equal(m.apply([r("state", S.HOLDING, 1200)]).length, 0, "the same state again is no change");
  });

  test("a downtime runs from leaving EXECUTE until EXECUTE again, with its final reason and category", () => {
    const m = tracker();
    m.apply([r("state", S.EXECUTE, 0)]);
    m.apply([r("state", S.HOLDING, 1000)]);
    m.apply([r("stopReason", "JAM", 1100), r("state", S.HELD, 1500)]);
    const out = m.apply([r("state", S.UNHOLDING, 7000), r("state", S.EXECUTE, 7500)]);
    const ended = out.find((e) => e.type === "mfg.machine.downtime_ended.v1");
    assert.ok(ended);
    const p = ended.payload as {
      durationMillis: bigint;
      reason: unknown;
      category: string;
      startedAt: Date;
      endedAt: Date;
    };
    assert.equal(p.durationMillis, 6500n);
    assert.deepEqual(p.reason, { code: "JAM", text: null });
    assert.equal(p.category, "UNPLANNED");
    assert.deepEqual([p.startedAt, p.endedAt], [at(1000), at(7500)]);
  });

  test("a normal completion is not downtime", () => {
    const m = tracker();
    m.apply([r("state", S.EXECUTE, 0)]);
    const out = m.apply([r("state", S.COMPLETING, 10), r("state", S.COMPLETE, 20)]);
    assert.ok(out.every((e) => e.type === "mfg.machine.machine_state_changed.v1"));
  });

  test("a report carries the machine's counting units: its good counter's, and its reject counter's when it has its own", () => {
    const unit = (counters: MachineTrackerOptions["counters"]) => {
      const m = tracker({ counters });
      m.apply([r("order", "MO/1", 0), r("goodCounter", 0, 0), r("rejectCounter", 0, 0)]);
      m.apply([r("goodCounter", 3, 100), r("rejectCounter", 2, 100)]);
      const [e] = m.flushProduction();
      const p = e?.payload as { goodQuantity: { uom: string }; rejectQuantity: { uom: string } };
      return [p.goodQuantity.uom, p.rejectQuantity.uom];
    };
    assert.deepEqual(unit({ max: 999n, rolloverWindow: 0.1, uom: "Case of 12" }), [
      "Case of 12",
      "Case of 12",
    ]);
    assert.deepEqual(unit({ max: 999n, rolloverWindow: 0.1, uom: "Case of 12", rejectUom: "Units" }), [
      "Case of 12",
      "Units",
    ]);
  });

  test("counter deltas are reported with the order and lot that was running, and a reset never double counts", () => {
    const m = tracker();
    m.apply([r("order", "MO/1", 0), r("lot", "L1", 0), r("goodCounter", 100, 0), r("rejectCounter", 5, 0)]);
    m.apply([r("goodCounter", 110, 100), r("rejectCounter", 6, 100)]);
    const switched = m.apply([r("order", "MO/2", 200), r("goodCounter", 0, 300)]); // order change, then a PLC reset
    assert.equal(switched.length, 1);
    const first = switched[0]?.payload as {
      orderRef: string;
      goodQuantity: { value: string };
      rejectQuantity: { value: string };
    };
    assert.equal(first.orderRef, "MO/1");
    assert.equal(first.goodQuantity.value, "10.000000");
    assert.equal(first.rejectQuantity.value, "1.000000");
    m.apply([r("goodCounter", 4, 400)]);
    const [second] = m.flushProduction();
    const p = second?.payload as {
      orderRef: string;
      goodQuantity: { value: string };
      goodCounterFrom: bigint;
      goodCounterTo: bigint;
    };
    assert.equal(p.orderRef, "MO/2");
    assert.equal(p.goodQuantity.value, "4.000000");
    assert.deepEqual([p.goodCounterFrom, p.goodCounterTo], [110n, 4n]);
    assert.deepEqual(m.flushProduction(), [], "nothing new: nothing reported");
  });

  test("a restarted tracker resumes from the last report: same readings, same ids, no double count", () => {
    const a = tracker();
    a.apply([r("goodCounter", 10, 0), r("rejectCounter", 0, 0)]);
    a.apply([r("goodCounter", 25, 500)]);
    const [report] = a.flushProduction();
    assert.ok(report);
    const p = report.payload as { goodCounterTo: bigint; rejectCounterTo: bigint; reportedAt: Date };
    const b = tracker();
    b.restore({ production: { good: p.goodCounterTo, reject: p.rejectCounterTo, at: p.reportedAt } });
    b.apply([r("goodCounter", 25, 500), r("rejectCounter", 0, 0)]); // the initial values again
    assert.deepEqual(b.flushProduction(), []);
    b.apply([r("goodCounter", 31, 900)]);
    const [next] = b.flushProduction();
    assert.equal(payloadOf<{ goodQuantity: { value: string } }>(next).goodQuantity.value, "6.000000");
    // The same period computed twice gets the same id (JetStream drops the copy).
    const c = tracker();
    c.restore({ production: { good: p.goodCounterTo, reject: p.rejectCounterTo, at: p.reportedAt } });
    c.apply([r("goodCounter", 31, 900), r("rejectCounter", 0, 0)]);
    assert.equal(c.flushProduction()[0]?.id, next?.id);
  });

  test("an open downtime survives a restart and ends with the original start", () => {
    const a = tracker();
    a.apply([r("state", S.EXECUTE, 0)]);
    const started = a
      .apply([r("state", S.STOPPING, 1000)])
      .find((e) => e.type === "mfg.machine.downtime_started.v1");
    const d = started?.payload as { downtimeId: string; startedAt: Date };
    const b = tracker();
    b.restore({
      state: { state: "STOPPED", at: at(1500) },
      openDowntime: { downtimeId: d.downtimeId, startedAt: d.startedAt, reason: null },
    });
    const ended = b
      .apply([r("state", S.EXECUTE, 9000)])
      .find((e) => e.type === "mfg.machine.downtime_ended.v1");
    assert.equal(payloadOf<{ durationMillis: bigint }>(ended).durationMillis, 8000n);
    assert.equal(payloadOf<{ downtimeId: string }>(ended).downtimeId, d.downtimeId);
  });

  test("telemetry is batched in source-time order, at most maxSamples per event; bad values keep their quality", () => {
    const m = tracker();
    m.apply([
      r("telemetry", 21.5, 300, { tag: "temp" }),
      r("telemetry", 21.4, 100, { tag: "temp" }),
      r("telemetry", 2.1, 200, { tag: "pressure" }),
      r("telemetry", 0, 400, { tag: "temp", quality: "BAD" }),
    ]);
    const batches = m.takeTelemetry();
    assert.equal(batches.length, 2);
    const samples = batches.flatMap(
      (b) => (b.payload as { samples: { tag: string; sourceTime: Date; quality: string }[] }).samples,
    );
    assert.deepEqual(
      samples.map((s) => s.sourceTime.getTime() - T0),
      [100, 200, 300, 400],
    );
    assert.equal(samples[3]?.quality, "BAD");
    assert.deepEqual(m.takeTelemetry(), []);
  });

  test("a state number outside the profile reads as UNDEFINED and is counted", () => {
    const m = tracker();
    const [e] = m.apply([r("state", 99, 0)]);
    assert.equal(payloadOf<{ state: string }>(e).state, "UNDEFINED");
    assert.equal(m.anomalies.unknownStates, 1);
  });

  test("a late copy of an older value (republished after a reconnection) is ignored, never read as a reset", () => {
    const m = tracker();
    m.apply([r("goodCounter", 10, 0), r("rejectCounter", 0, 0)]);
    m.apply([r("goodCounter", 40, 3000)]);
    m.apply([r("goodCounter", 35, 2500)]); // stale
    m.apply([r("goodCounter", 42, 3100)]);
    const [report] = m.flushProduction();
    assert.equal(payloadOf<{ goodQuantity: { value: string } }>(report).goodQuantity.value, "32.000000");
    assert.equal(m.anomalies.staleReadings, 1);
    assert.equal(m.anomalies.resets, 0);
  });

  test("bad-quality discrete values are ignored", () => {
    const m = tracker();
    m.apply([r("state", S.EXECUTE, 0)]);
    assert.deepEqual(m.apply([r("state", 0, 10, { quality: "BAD" })]), []);
  });

  test("a report carries the time the machine ran in its period, clipped to it; the rest goes with the next report", () => {
    const m = tracker();
    m.apply([r("goodCounter", 0, 0), r("rejectCounter", 0, 0), r("order", "MO/1", 0)]);
    m.apply([r("state", S.EXECUTE, 1_000)]);
    m.apply([r("goodCounter", 10, 4_000)]);
    const [first] = m.flushProduction();
    type Timed = { running: { startedAt: Date; endedAt: Date }[]; periodStartAt: Date; reportedAt: Date };
    assert.deepEqual(
      payloadOf<Timed>(first).running.map((p) => [p.startedAt.getTime() - T0, p.endedAt.getTime() - T0]),
      [[1_000, 4_000]],
    );
    // It stops at 6 s without counting more: the stretch's end is reported at once, with no count.
    const stop = m.apply([r("state", S.STOPPED, 6_000)]);
    const timeOnly = stop.find((e) => e.type === "mfg.production.production_reported.v1");
    const p = payloadOf<Timed & { goodQuantity: { value: string } }>(timeOnly);
    assert.equal(p.goodQuantity.value, "0.000000");
    assert.deepEqual(
      p.running.map((x) => [x.startedAt.getTime() - T0, x.endedAt.getTime() - T0]),
      [[4_000, 6_000]],
    );
    assert.deepEqual(
      m.flushProduction({ withRunningTime: true, at: at(9_000) }),
      [],
      "stopped: no time to report",
    );
  });

  test("only the counting point says its run ended when its order or lot changes; a lot changing with the order ends one run", () => {
    const upstream = tracker({ rejectedComponent: "CAP-38" });
    const point = tracker({ countingPoint: true });
    for (const m of [upstream, point]) {
      m.apply([r("goodCounter", 0, 0), r("rejectCounter", 0, 0), r("order", "MO/1", 0), r("lot", "L1", 0)]);
      m.apply([r("goodCounter", 5, 100), r("rejectCounter", 1, 100)]);
    }
    const ended = (events: { type: string; payload: unknown }[]) =>
      events.filter((e) => e.type === "mfg.production.production_run_ended.v1").map((e) => e.payload);
    assert.deepEqual(ended(upstream.apply([r("lot", "L2", 200)])), []);
    const reports = upstream.apply([r("goodCounter", 7, 250)]).concat(upstream.flushProduction());
    assert.equal(payloadOf<{ rejectedComponent: string }>(reports[0]).rejectedComponent, "CAP-38");
    assert.equal(payloadOf<{ countingPoint: boolean }>(reports[0]).countingPoint, false);

    const lotChange = point.apply([r("lot", "L2", 200)]);
    assert.deepEqual(
      lotChange.map((e) => e.type),
      ["mfg.production.production_reported.v1", "mfg.production.production_run_ended.v1"],
      "the run's last count is reported before its end",
    );
    assert.equal(payloadOf<{ countingPoint: boolean }>(lotChange[0]).countingPoint, true);
    assert.deepEqual(ended(lotChange), [
      {
        equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: "m1" },
        orderRef: "MO/1",
        lot: "L1",
        reason: "LOT_CHANGE",
        nextOrderRef: "MO/1",
        nextLot: "L2",
        requestedBy: null,
        endedAt: at(200),
      },
    ]);
    point.apply([r("goodCounter", 9, 300)]);
    const orderChange = ended(point.apply([r("order", "MO/2", 400), r("lot", "L7", 400)]));
    assert.deepEqual(
      orderChange.map((e) => [
        (e as { orderRef: string }).orderRef,
        (e as { lot: string }).lot,
        (e as { reason: string }).reason,
        (e as { nextOrderRef: string }).nextOrderRef,
        (e as { nextLot: string }).nextLot,
      ]),
      [["MO/1", "L2", "ORDER_CHANGE", "MO/2", "L7"]],
    );
    assert.deepEqual(ended(point.apply([r("order", null, 500)])).length, 1, "to no order: MO/2's run ended");
    assert.deepEqual(ended(point.apply([r("order", "MO/3", 600)])), [], "from no order: nothing ended");
  });
});

describe("machines without PackML", () => {
  const noState = (over: Partial<MachineTrackerOptions> = {}) =>
    tracker({ hasState: false, running: {}, countingPoint: true, ...over });
  const types = (events: { type: string }[]) => events.map((e) => e.type.split(".")[2]);

  test("a running signal gives downtime from running to stopped and back, and running time — never a MachineStateChanged", () => {
    const m = noState();
    m.apply([r("goodCounter", 0, 0), r("rejectCounter", 0, 0)]);
    assert.equal(m.baselined, false, "the running signal is not read yet");
    assert.deepEqual(
      m.apply([r("running", false, 0)]),
      [],
      "a first 'not running' has no known start: no downtime",
    );
    assert.equal(m.baselined, true);
    assert.deepEqual(m.apply([r("running", true, 1_000)]), []);
    const stop = m.apply([r("running", false, 3_000)]);
    assert.deepEqual(types(stop), ["production_reported", "downtime_started"]);
    const report = payloadOf<{ running: { startedAt: Date; endedAt: Date }[] }>(stop[0]);
    assert.deepEqual(
      report.running.map((p) => [p.startedAt.getTime() - T0, p.endedAt.getTime() - T0]),
      [[1_000, 3_000]],
    );
    const back = m.apply([r("running", true, 7_500)]);
    assert.deepEqual(types(back), ["downtime_ended"]);
    assert.equal(payloadOf<{ durationMillis: bigint }>(back[0]).durationMillis, 4_500n);
  });

  test("a vendor status: the listed values run, any other is a stop named by its value (enumeration name, text or number)", () => {
    const m = noState({ running: { values: ["Running", 7] }, categories: { Setup: "PLANNED" } });
    m.apply([r("goodCounter", 0, 0), r("rejectCounter", 0, 0)]);
    const status = (value: number, name: string | null, ms: number) =>
      r("running", { kind: "enumeration", value, name }, ms);
    m.apply([status(1, "Running", 0)]);
    const started = m.apply([status(3, "Setup", 1_000)]).find((e) => e.type.endsWith("downtime_started.v1"));
    assert.deepEqual(payloadOf<{ reason: unknown; category: string }>(started), {
      ...payloadOf<object>(started),
      reason: { code: "Setup", text: null },
      category: "PLANNED",
    });
    assert.deepEqual(types(m.apply([status(7, null, 2_000)])), ["downtime_ended"], "7 is listed: running");
    assert.deepEqual(types(m.apply([r("running", "running", 2_500)])), [], "a text matches without case");
  });

  test("a machine with counters only counts, and its order change ends its run at the counting point", () => {
    const m = tracker({ hasState: false, countingPoint: true });
    m.apply([r("goodCounter", 5, 0), r("rejectCounter", 0, 0), r("order", "MO/1", 0)]);
    assert.equal(m.baselined, true);
    m.apply([r("goodCounter", 9, 100)]);
    assert.deepEqual(types(m.apply([r("order", "MO/2", 200)])), [
      "production_reported",
      "production_run_ended",
    ]);
  });

  test("a telemetry-only machine only samples", () => {
    const m = tracker({ hasState: false, hasGoodCounter: false, hasRejectCounter: false });
    assert.equal(m.baselined, true);
    assert.deepEqual(m.apply([r("telemetry", 1.5, 0, { tag: "t" })]), []);
    assert.deepEqual(m.flushProduction({ withRunningTime: true, at: at(100) }), []);
    assert.equal(m.takeTelemetry().length, 1);
  });

  test("a restarted tracker knows from the resume point whether the machine ran", () => {
    const m = noState();
    m.restore({
      running: { running: true, at: at(1_000) },
      production: { good: 0n, reject: 0n, at: at(1_000) },
    });
    m.apply([r("running", false, 2_000)]);
    assert.equal(m.running, false);
    const again = noState();
    again.restore({
      running: { running: true, at: at(1_000) },
      production: { good: 0n, reject: 0n, at: at(1_000) },
    });
    const out = again.apply([r("goodCounter", 0, 0), r("rejectCounter", 0, 0), r("running", false, 2_000)]);
    assert.deepEqual(
      types(out),
      ["production_reported", "downtime_started"],
      "the stop after the restart is a downtime",
    );
  });
});

describe("alarms", () => {
  const condition = (
    over: Partial<Extract<AlarmNotification, { kind: "condition" }>> = {},
    ms = 0,
  ): Reading => ({
    signal: "alarm",
    value: { kind: "null" },
    sourceTime: at(ms),
    quality: "GOOD",
    alarm: {
      kind: "condition",
      conditionId: "ns=2;i=800",
      conditionName: "OverTemp",
      sourceName: "Press",
      alarmType: "ExclusiveLimitAlarmType",
      severity: 800,
      message: "too hot",
      time: at(ms),
      active: true,
      acked: false,
      activeAt: null,
      ackedAt: null,
      comment: null,
      branch: false,
      ...over,
    },
  });
  const alarmTracker = (minSeverity = 500) =>
    tracker({ alarms: { downtimeReason: { minSeverity } }, categories: { OverTemp: "UNPLANNED" } });

  test("raised, acknowledged, cleared: one alarm id, the times of the transitions", () => {
    const m = alarmTracker();
    const [raised] = m.apply([condition({}, 100)]);
    assert.equal(raised?.type, "mfg.machine.alarm_raised.v1");
    assert.deepEqual(m.apply([condition({}, 150)]), [], "the same state again is nothing");
    const [acked] = m.apply([condition({ acked: true, ackedAt: at(200), comment: "seen" }, 200)]);
    const [cleared] = m.apply([condition({ active: false, acked: true }, 900)]);
    const ids = [raised, acked, cleared].map((e) => payloadOf<{ alarmId: string }>(e).alarmId);
    assert.equal(new Set(ids).size, 1);
    assert.equal(payloadOf<{ comment: string }>(acked).comment, "seen");
    assert.deepEqual(payloadOf<{ durationMillis: bigint; acknowledged: boolean }>(cleared), {
      ...payloadOf<object>(cleared),
      durationMillis: 800n,
      acknowledged: true,
    });
    assert.deepEqual(
      m.apply([condition({ active: true }, 2_000)]).map((e) => e.type),
      ["mfg.machine.alarm_raised.v1"],
    );
  });

  test("cleared before acknowledged: the acknowledgement still follows; a branch is not the condition's state", () => {
    const m = alarmTracker();
    m.apply([condition({}, 0)]);
    assert.equal(m.apply([condition({ active: false }, 100)])[0]?.type, "mfg.machine.alarm_cleared.v1");
    assert.deepEqual(m.apply([condition({ active: false, acked: true, branch: true }, 150)]), []);
    assert.equal(
      m.apply([condition({ active: false, acked: true }, 200)])[0]?.type,
      "mfg.machine.alarm_acknowledged.v1",
    );
  });

  test("a refresh that does not re-send an active alarm clears it (it cleared while the bridge could not see); re-sent ones keep their old times", () => {
    const m = alarmTracker();
    m.apply([condition({}, 0), condition({ conditionId: "ns=2;i=801", conditionName: "Door" }, 0)]);
    const refresh: Reading[] = [
      {
        signal: "alarm",
        value: { kind: "null" },
        sourceTime: at(500),
        quality: "GOOD",
        alarm: { kind: "refreshStart" },
      },
      condition({}, 0),
      {
        signal: "alarm",
        value: { kind: "null" },
        sourceTime: at(500),
        quality: "GOOD",
        alarm: { kind: "refreshEnd", time: at(500) },
      },
    ];
    const out = m.apply(refresh);
    assert.deepEqual(
      out.map((e) => [e.type, (e.payload as { alarm: { conditionName: string } }).alarm.conditionName]),
      [["mfg.machine.alarm_cleared.v1", "Door"]],
    );
  });

  test("the most severe active alarm names a downtime no stop reason names; a stop reason signal beats it", () => {
    const m = alarmTracker(500);
    m.apply([
      r("state", S.EXECUTE, 0),
      condition({ severity: 300, conditionName: "Minor", conditionId: "a" }, 10),
    ]);
    m.apply([condition({}, 20)]);
    const started = m.apply([r("state", S.HELD, 100)]).find((e) => e.type.endsWith("downtime_started.v1"));
    assert.deepEqual(payloadOf<{ reason: unknown; category: string }>(started), {
      ...payloadOf<object>(started),
      reason: { code: "OverTemp", text: "too hot" },
      category: "UNPLANNED",
    });
    m.apply([r("stopReason", "JAM", 200)]);
    const ended = m.apply([r("state", S.EXECUTE, 300)]).find((e) => e.type.endsWith("downtime_ended.v1"));
    assert.deepEqual(payloadOf<{ reason: unknown }>(ended).reason, { code: "JAM", text: null });
  });

  test("an alarm raised while down names the downtime when nothing did", () => {
    const m = alarmTracker();
    m.apply([r("state", S.EXECUTE, 0)]);
    m.apply([r("state", S.STOPPED, 100)]);
    m.apply([condition({}, 150)]);
    const ended = m.apply([r("state", S.EXECUTE, 400)]).find((e) => e.type.endsWith("downtime_ended.v1"));
    assert.deepEqual(payloadOf<{ reason: unknown }>(ended).reason, { code: "OverTemp", text: "too hot" });
  });
});

describe("values the tracker cannot use are dropped and reported, never silently", () => {
  test("a sample of a type the bridge does not carry, a negative count, a state that is no number nor name", () => {
    const m = tracker();
    m.apply([
      r("telemetry", { kind: "unsupported", type: "ByteString" }, 0, { tag: "image" }),
      r("goodCounter", -3, 0),
      r("state", { kind: "time", value: at(0), nanos: 0 }, 0),
    ]);
    assert.deepEqual(
      m.takeDrops().map((d) => [d.kind, d.name, d.reason, d.detail]),
      [
        ["signal", "goodCounter", "not_a_count", "INT32 -3"],
        ["telemetry", "image", "unsupported_type", "ByteString"],
        ["signal", "state", "not_a_state", "DateTime 2026-11-30T08:00:00.000Z"],
      ],
    );
    assert.deepEqual(m.takeDrops(), []);
  });

  test("a state given by name, a mode by name, a Double counter holding a whole number", () => {
    const m = tracker();
    const [e] = m.apply([
      r("state", { kind: "text", type: "LOCALIZED_TEXT", value: "Execute", locale: "en" }, 0),
    ]);
    assert.equal(payloadOf<{ state: string }>(e).state, "EXECUTE");
    m.apply([r("goodCounter", 10, 0), r("rejectCounter", 0, 0)]);
    m.apply([r("goodCounter", 12.0, 100), r("mode", "Maintenance", 100)]);
    assert.equal(m.takeDrops().length, 0);
    const [report] = m.flushProduction();
    assert.equal(payloadOf<{ goodQuantity: { value: string } }>(report).goodQuantity.value, "2.000000");
    const held = m.apply([r("state", S.HELD, 200)]).find((e) => e.type.endsWith("machine_state_changed.v1"));
    assert.equal(payloadOf<{ mode: string }>(held).mode, "MAINTENANCE");
  });
});

describe("sample fields of a value", () => {
  test("an array is one sample per element with its index; what cannot be carried is counted by reason", () => {
    const long: Value = {
      kind: "array",
      elements: Array.from({ length: MAX_ARRAY_ELEMENTS + 2 }, (_, i) => ({
        kind: "float",
        type: "DOUBLE",
        value: i,
      })),
    };
    const { samples, refused } = sampleFieldsOf(long);
    assert.equal(samples.length, MAX_ARRAY_ELEMENTS);
    assert.deepEqual([samples[7]?.index, samples[7]?.value], [7, 7]);
    assert.deepEqual(refused, { reason: "array_too_long", type: "Array", count: 2 });
    const mixed = sampleFieldsOf({
      kind: "array",
      elements: [
        { kind: "boolean", value: true },
        { kind: "unsupported", type: "ExtensionObject (Range)" },
        { kind: "array", elements: [] },
      ],
    });
    assert.deepEqual(
      mixed.samples.map((s) => [s.index, s.dataType, s.booleanValue]),
      [[0, "BOOLEAN", true]],
    );
    assert.deepEqual(mixed.refused, {
      reason: "unsupported_type",
      type: "ExtensionObject (Range)",
      count: 2,
    });
  });

  test("a UInt64 travels as an exact decimal, an Int64 as a long, both with the nearest double", () => {
    const [u] = sampleFieldsOf({ kind: "integer", type: "UINT64", value: 2n ** 64n - 1n }).samples;
    assert.deepEqual([u?.unsignedValue, u?.integerValue, u?.value], ["18446744073709551615", null, 2 ** 64]);
    const [i] = sampleFieldsOf({ kind: "integer", type: "INT64", value: -(2n ** 63n) }).samples;
    assert.deepEqual([i?.integerValue, i?.unsignedValue, i?.value], [-(2n ** 63n), null, -(2 ** 63)]);
    const [n] = sampleFieldsOf({ kind: "null" }).samples;
    assert.deepEqual(
      [n?.dataType, Number.isNaN(n?.value)],
      ["NULL", true],
      "a bad sample without value is kept",
    );
  });
});
