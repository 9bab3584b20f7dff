import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PACK_ML_STATE_SYMBOLS } from "../../contracts/src/events.generated.js";
import { ConfigError } from "../../streams/src/errors.js";
import { type PlantConfigInput, parsePlantConfig } from "../../tools/sim/plant/config.js";
import { type ChangeEvent, PlantModel } from "../../tools/sim/plant/model.js";
import {
  availableCommands,
  completedState,
  IllegalTransitionError,
  type PackMlState,
  stateFromNumber,
  stateNumber,
  TMC_STATE_NUMBERS,
  transition,
} from "../../tools/sim/plant/packml.js";

const HOUR = 3_600_000;

function plant(overrides: Record<string, unknown> = {}, scenario: unknown[] = []): PlantConfigInput {
  return {
    seed: 42,
    sites: [
      {
        id: "lyon",
        lines: [
          {
            id: "l1",
            machines: [
              {
                id: "filler",
                cycleTimeMs: 1000,
                rejectRate: 0.05,
                order: "MO/001",
                lot: "LOT-A",
                telemetry: [
                  { name: "temperature", unit: "Cel", mean: 80, sd: 0.5, driftPerHour: 0.2 },
                  { name: "pressure", unit: "bar", mean: 4, sd: 0.05 },
                  { name: "speed", unit: "1/min", mean: 60, sd: 1 },
                ],
                outOfControl: { probability: 0.002 },
                stopReasons: [
                  { code: "E-104", text: "Infeed jam", probability: 0.002, durationMs: [30_000, 120_000] },
                  {
                    code: "E-200",
                    text: "Guard door open",
                    probability: 0.001,
                    durationMs: [60_000, 60_000],
                    kind: "stop",
                  },
                ],
                ...overrides,
              },
              { id: "capper", cycleTimeMs: 1500, rejectRate: 0.02 },
            ],
          },
        ],
      },
    ],
    scenario,
  } as PlantConfigInput;
}

function run(config: PlantConfigInput, ms: number, seed?: number) {
  const model = new PlantModel(config, seed === undefined ? {} : { seed });
  const events: ChangeEvent[] = [];
  model.onChange((e) => events.push(e));
  model.advance(ms);
  return { model, events, truth: model.groundTruth() };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

const scripted = [
  { at: 600_000, machine: "filler", action: "setOrder", order: "MO/002", lot: "LOT-B" },
  { at: 900_000, machine: "capper", action: "command", command: "Hold" },
  { at: 960_000, machine: "capper", action: "command", command: "Unhold" },
  { at: 1_200_000, machine: "filler", action: "resetCounters" },
];

describe("plant simulator model", () => {
  test("the same seed and scenario give identical ground truth and telemetry sequences", () => {
    const a = run(plant({}, scripted), HOUR);
    const b = run(plant({}, scripted), HOUR);
    assert.deepEqual(a.truth, b.truth);
    const telemetry = (events: ChangeEvent[]) => events.filter((e) => e.type === "telemetry");
    assert.deepEqual(telemetry(a.events), telemetry(b.events));
    assert.deepEqual(a.events, b.events);
    assert.ok(a.truth["filler"]!.cycles > 3000, "the filler produced for most of the hour");
    // 3 tags sampled every second, from t=0 through t=1h inclusive.
    assert.equal(telemetry(a.events).length, 3 * 3601);
  });

  test("advancing in small steps gives the same run as one big step", () => {
    const whole = run(plant({}, scripted), HOUR);
    const model = new PlantModel(plant({}, scripted));
    for (let i = 0; i < 360; i++) model.advance(HOUR / 360);
    assert.deepEqual(model.groundTruth(), whole.truth);
  });

  test("different seeds give different runs", () => {
    const a = run(plant(), HOUR, 1);
    const b = run(plant(), HOUR, 2);
    assert.notDeepEqual(a.truth, b.truth);
    const values = (events: ChangeEvent[]) =>
      events.flatMap((e) => (e.type === "telemetry" ? [e.value] : [])).slice(0, 50);
    assert.notDeepEqual(values(a.events), values(b.events));
  });

  test("scripted commands change production but never the telemetry sequence", () => {
    const quiet = run(plant(), HOUR);
    const busy = run(plant({}, scripted), HOUR);
    const fillerTelemetry = (events: ChangeEvent[]) =>
      events.filter((e) => e.type === "telemetry" && e.machine === "filler");
    assert.deepEqual(fillerTelemetry(quiet.events), fillerTelemetry(busy.events));
  });

  test("state numbers follow the PackMlState enum and PackTags: CLEARING is 1, EXECUTE 6, COMPLETE 17", () => {
    PACK_ML_STATE_SYMBOLS.forEach((s, i) => {
      assert.equal(stateNumber(s), i);
      assert.equal(stateFromNumber(i), s);
    });
    assert.equal(stateNumber("CLEARING"), 1);
    assert.equal(stateNumber("STOPPED"), 2);
    assert.equal(stateNumber("EXECUTE"), 6);
    assert.equal(stateNumber("COMPLETE"), 17);
    assert.equal(stateFromNumber(99), "UNDEFINED");
    assert.equal(TMC_STATE_NUMBERS.STOPPED, 0);
    assert.equal(TMC_STATE_NUMBERS.EXECUTE, 4);
  });

  test("legal commands walk the PackML cycle and acting states complete to their wait states", () => {
    const walk: [PackMlState, Parameters<typeof transition>[1], PackMlState, PackMlState][] = [
      ["STOPPED", "Reset", "RESETTING", "IDLE"],
      ["IDLE", "Start", "STARTING", "EXECUTE"],
      ["EXECUTE", "Hold", "HOLDING", "HELD"],
      ["HELD", "Unhold", "UNHOLDING", "EXECUTE"],
      ["EXECUTE", "Suspend", "SUSPENDING", "SUSPENDED"],
      ["SUSPENDED", "Unsuspend", "UNSUSPENDING", "EXECUTE"],
      ["EXECUTE", "Complete", "COMPLETING", "COMPLETE"],
      ["COMPLETE", "Reset", "RESETTING", "IDLE"],
      ["IDLE", "Stop", "STOPPING", "STOPPED"],
      ["HELD", "Abort", "ABORTING", "ABORTED"],
      ["ABORTED", "Clear", "CLEARING", "STOPPED"],
    ];
    for (const [from, cmd, acting, wait] of walk) {
      assert.equal(transition(from, cmd), acting, `${from} --${cmd}-->`);
      assert.equal(completedState(acting), wait, `${acting} --SC-->`);
    }
    assert.deepEqual(availableCommands("EXECUTE"), ["Stop", "Hold", "Suspend", "Abort", "Complete"]);
    assert.deepEqual(availableCommands("ABORTED"), ["Clear"]);

    const model = new PlantModel(plant({ initialState: "STOPPED", actingStateMs: 200 }));
    const seen: string[] = [];
    model.onChange((e) => {
      if (e.type === "state" && e.machine === "filler") seen.push(`${e.previous}>${e.state}:${e.cause}`);
    });
    model.command("filler", "Reset");
    model.advance(200);
    assert.equal(model.snapshot("filler").state, "IDLE");
    model.command("filler", "Start");
    model.advance(199);
    assert.equal(model.snapshot("filler").state, "STARTING");
    model.advance(1);
    assert.equal(model.snapshot("filler").state, "EXECUTE");
    assert.equal(model.snapshot("filler").stateNumber, 6);
    assert.deepEqual(seen, [
      "STOPPED>RESETTING:Reset",
      "RESETTING>IDLE:SC",
      "IDLE>STARTING:Start",
      "STARTING>EXECUTE:SC",
    ]);
  });

  test("an illegal command throws IllegalTransitionError naming the state and the command", () => {
    assert.throws(
      () => transition("IDLE", "Unhold"),
      (e: unknown) =>
        e instanceof IllegalTransitionError &&
        e.code === "PACKML_ILLEGAL_TRANSITION" &&
        e.state === "IDLE" &&
        e.command === "Unhold" &&
        e.message.includes("IDLE") &&
        e.message.includes("Unhold"),
    );
    assert.throws(() => transition("ABORTED", "Stop"), IllegalTransitionError);
    assert.throws(() => transition("ABORTING", "Abort"), IllegalTransitionError);

    const model = new PlantModel(plant());
    assert.throws(
      () => model.command("filler", "Start"),
      (e: unknown) =>
        e instanceof IllegalTransitionError &&
        e.state === "EXECUTE" &&
        e.command === "Start" &&
        e.message.includes("filler"),
    );
    assert.equal(model.snapshot("filler").state, "EXECUTE", "the state is unchanged");
  });

  test("an illegal scripted command is recorded as rejected, not thrown", () => {
    const { truth, events } = run(
      plant({ stopReasons: [] }, [{ at: 5000, machine: "filler", action: "command", command: "Unhold" }]),
      10_000,
    );
    assert.deepEqual(truth["filler"]!.rejectedCommands, [{ at: 5000, command: "Unhold", state: "EXECUTE" }]);
    assert.ok(events.some((e) => e.type === "commandRejected"));
  });

  test("counters only increase while in EXECUTE and good plus reject equals the completed cycles", () => {
    const model = new PlantModel(plant({}, scripted));
    const states = new Map<string, PackMlState>(
      model.machineIds().map((id) => [id, model.snapshot(id).state]),
    );
    let counterEvents = 0;
    model.onChange((e) => {
      if (e.type === "state") states.set(e.machine, e.state);
      if (e.type === "counter" && e.cause !== "reset") {
        counterEvents++;
        assert.equal(states.get(e.machine), "EXECUTE", `${e.machine} counted in ${states.get(e.machine)}`);
        assert.equal(e.value, e.previous + 1, "one unit per cycle");
      }
    });
    model.advance(HOUR);
    const truth = model.groundTruth();
    let cycles = 0;
    for (const t of Object.values(truth)) {
      assert.equal(t.good + t.reject, t.cycles);
      assert.ok(t.reject > 0 && t.good > t.reject);
      const byOrder = t.byOrder.reduce((s, o) => s + o.good + o.reject, 0);
      assert.equal(byOrder, t.cycles, "per-order totals add up");
      cycles += t.cycles;
    }
    assert.equal(counterEvents, cycles);
    const filler = truth["filler"]!;
    assert.deepEqual(
      filler.byOrder.map((o) => o.order),
      ["MO/001", "MO/002"],
    );
    assert.ok(filler.downtime.length > 0, "random stops happened");
    for (const d of filler.downtime) {
      assert.ok(d.reason?.code === "E-104" || d.reason?.code === "E-200");
      if (d.end !== null) assert.equal(d.durationMs, d.end - d.start);
    }
    assert.equal(filler.counterResets, 1);
    assert.ok(filler.goodCounter < filler.good, "the PLC counter was reset, the truth was not");
  });

  test("a scripted hold and unhold produce a downtime interval of the scripted length", () => {
    const config = plant({ stopReasons: [], actingStateMs: 0 }, [
      { at: 10_000, machine: "filler", action: "command", command: "Hold" },
      { at: 40_000, machine: "filler", action: "command", command: "Unhold" },
      {
        at: 50_000,
        machine: "filler",
        action: "forceStop",
        reason: "E-7",
        text: "Starved",
        durationMs: 15_000,
      },
    ]);
    const { truth } = run(config, 100_000);
    const filler = truth["filler"]!;
    assert.deepEqual(filler.downtime, [
      { start: 10_000, end: 40_000, durationMs: 30_000, reason: null, enteredState: "HOLDING" },
      {
        start: 50_000,
        end: 65_000,
        durationMs: 15_000,
        reason: { code: "E-7", text: "Starved" },
        enteredState: "HOLDING",
      },
    ]);
    assert.equal(filler.cycles, 100 - 30 - 15, "no cycles while held");

    // With acting states taking time, the downtime also covers HOLDING and UNHOLDING.
    const slow = run(
      plant({ stopReasons: [], actingStateMs: 500 }, [
        { at: 10_000, machine: "filler", action: "command", command: "Hold" },
        { at: 40_000, machine: "filler", action: "command", command: "Unhold" },
      ]),
      60_000,
    ).truth["filler"]!;
    assert.equal(slow.downtime[0]!.durationMs, 30_500);
  });

  test("counters wrap at the configured max while the ground truth keeps the true total", () => {
    const model = new PlantModel(
      plant({ stopReasons: [], rejectRate: 0, counters: { max: 99, initialGood: 95 } }),
    );
    const wraps: ChangeEvent[] = [];
    model.onChange((e) => {
      if (e.type === "counter" && e.cause === "rollover") wraps.push(e);
    });
    model.advance(20_000);
    const t = model.groundTruth()["filler"]!;
    assert.equal(t.good, 20);
    assert.equal(t.goodCounter, (95 + 20) % 100);
    assert.equal(t.rollovers.good, 1);
    assert.deepEqual(wraps, [
      {
        type: "counter",
        machine: "filler",
        at: 5000,
        counter: "good",
        value: 0,
        previous: 99,
        cause: "rollover",
      },
    ]);

    model.resetCounters("filler");
    model.advance(3000);
    const after = model.groundTruth()["filler"]!;
    assert.equal(after.goodCounter, 3);
    assert.equal(after.good, 23);
  });

  test("out-of-control runs are 8 points on one side of the centre line", () => {
    const { truth, events } = run(plant({ stopReasons: [] }), HOUR);
    const runs = truth["filler"]!.outOfControlRuns;
    assert.ok(runs.length > 0, "some runs were injected");
    for (const r of runs.filter((r) => r.start <= HOUR - 8000)) {
      const points = events.filter(
        (e): e is Extract<ChangeEvent, { type: "telemetry" }> =>
          e.type === "telemetry" && e.machine === "filler" && e.tag === r.tag && e.at >= r.start,
      );
      const tag = { temperature: [80, 0.2], pressure: [4, 0], speed: [60, 0] }[r.tag] as [number, number];
      const run8 = points.slice(0, 8);
      assert.equal(r.length, 8);
      assert.equal(run8.length, 8);
      for (const p of run8) {
        const center = tag[0] + (tag[1] * p.at) / HOUR;
        assert.ok(p.outOfControl);
        assert.equal(Math.sign(p.value - center), r.direction, `${r.tag} at ${p.at}`);
      }
    }
  });

  test("a bad config names the offending key", () => {
    const machine = (o: Record<string, unknown>) => plant(o);
    assert.equal(
      configError(() => parsePlantConfig(machine({ cycleTimeMs: -5 }))).key,
      "sites.0.lines.0.machines.0.cycleTimeMs",
    );
    assert.equal(
      configError(() => parsePlantConfig(machine({ rejectRate: 1.5 }))).key,
      "sites.0.lines.0.machines.0.rejectRate",
    );
    assert.equal(
      configError(() => parsePlantConfig(machine({ cycleTime: 5 }))).key,
      "sites.0.lines.0.machines.0.cycleTime",
    );
    assert.equal(
      configError(() =>
        parsePlantConfig(machine({ stopReasons: [{ code: "x", probability: 0.1, durationMs: [10, 5] }] })),
      ).key,
      "sites.0.lines.0.machines.0.stopReasons.0.durationMs",
    );
    assert.equal(
      configError(() =>
        parsePlantConfig(plant({}, [{ at: 0, machine: "nope", action: "command", command: "Hold" }])),
      ).key,
      "scenario.0.machine",
    );
    assert.equal(
      configError(
        () => new PlantModel(plant({}, [{ at: 0, machine: "filler", action: "command", command: "Go" }])),
      ).key,
      "scenario.0.command",
    );
    const e = configError(() => parsePlantConfig(machine({ counters: { max: 10, initialGood: 11 } })));
    assert.equal(e.key, "sites.0.lines.0.machines.0.counters.initialGood");
    assert.equal(e.code, "CONFIG_INVALID");
  });
});
