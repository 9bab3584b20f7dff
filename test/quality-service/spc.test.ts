/**
 * SPC engine - the quality service's control charts as a specification: limits (configured, or from a
 * phase I baseline and then frozen), the Nelson and Western Electric run rules, CUSUM and EWMA, and the
 * episodes that keep a violating run from flooding.
 *
 * Published worked examples the engine is checked against:
 * - NIST/SEMATECH e-Handbook of Statistical Methods, 6.3.2.2 (individuals and moving range,
 *   https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc322.htm): ten measurements, MR̄ = 1.8778,
 *   center 50.81, UCL 55.8041, LCL 45.8159;
 * - the same handbook, 6.3.2.4 (EWMA, https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc324.htm):
 *   EWMA₀ = 50, s = 2.0539, λ = 0.3, limits 52.5884 / 47.4115, the twenty EWMA values it lists ending
 *   50.73, 51.23, 51.94, 51.99, no point out of control;
 * - Montgomery & Runger, Applied Statistics and Probability for Engineers, Example 16-6 and Table 16-8
 *   (a tabular CUSUM of chemical process concentration, μ₀ = 99, K = 1, H = 10, i.e. σ = 2, k = 0.5,
 *   h = 5): every upper and lower sum, never beyond H;
 * - Montgomery, Introduction to Statistical Quality Control, Table 9.1 (thirty points, μ₀ = 10, σ = 1,
 *   the last ten shifted by 1σ; the series as reprinted in the IMSL EWMA documentation,
 *   https://help.imsl.com/net/current/manual/docs/ewma.htm): no point beyond 3σ, the tabular CUSUM
 *   (k = 0.5, h = 5) signals at period 29 with C⁺ = 5.28 and N⁺ = 7 (Example 9.1), the EWMA (λ = 0.1,
 *   L = 2.7) at period 29 too (Example 9.2).
 * The rule definitions follow Minitab's tests for special causes (see services/quality-service/src/spc/rules.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EventCodec, type SpcViolationDetected } from "../../contracts/src/index.js";
import { QualityError } from "../../services/quality-service/src/errors.js";
import {
  evaluateSeries,
  MAX_SUBGROUP,
  MIN_SUBGROUP,
  SpcChart,
  type SpcChartOptions,
  type SpcSample,
  subgroupConstants,
  violationEventFields,
} from "../../services/quality-service/src/spc/index.js";

const T0 = Date.parse("2026-03-02T06:00:00Z");
const samples = (values: readonly (number | readonly number[])[]): SpcSample[] =>
  values.map((value, i) => ({ time: new Date(T0 + i * 60_000), value }));
const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual}, expected ${expected} ± ${tolerance}`,
  );
/** The rules whose episodes start on the series, in order: "nelson-5@2" is rule 5 starting at point 2. */
const fired = (values: readonly number[], options: SpcChartOptions) =>
  evaluateSeries(samples(values), options).episodes.map((e) => `${e.rule.id}@${e.index}`);
const isCode = (code: string) => (err: unknown) => err instanceof QualityError && err.code === code;

const NIST_IMR = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1];
const NIST_EWMA = [52.0, 47.0, 53.0, 49.3, 50.1, 47.0, 51.0, 50.1, 51.2, 50.5, ...NIST_IMR];
const RUNGER_CUSUM = [
  102.0, 94.8, 98.3, 98.4, 102.0, 98.5, 99.0, 97.7, 100.0, 98.1, 101.3, 98.7, 101.1, 98.4, 97.0, 96.7, 100.3,
  101.4, 97.2, 101.0,
];
const MONTGOMERY_SHIFT = [
  9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.2, 10.34, 9.03, 11.47, 10.51, 9.4, 10.08, 9.37, 10.62,
  10.31, 8.52, 10.84, 10.9, 9.33, 12.29, 11.5, 10.6, 11.08, 10.38, 11.62, 11.31, 10.52,
];

describe("spc - published worked examples", () => {
  test("I-MR limits from a baseline reproduce the NIST handbook's: MR̄ 1.8778, center 50.81, UCL 55.8041, LCL 45.8159", () => {
    const r = evaluateSeries(samples(NIST_IMR), { baseline: 10, rules: "nelson" });
    const limits = r.limits!;
    near(limits.center, 50.81, 1e-9, "center");
    near(limits.range.center, 1.8778, 1e-4, "MR̄");
    near(limits.ucl, 55.8041, 1e-4, "UCL");
    near(limits.lcl, 45.8159, 1e-4, "LCL");
    near(limits.range.ucl, 3.267 * 1.8778, 1e-3, "MR chart UCL");
    assert.equal(r.points.length, 10, "the baseline itself is judged once the limits are frozen");
    assert.deepEqual(
      r.episodes.map((e) => e.rule.id),
      [],
      "the handbook's process is in control",
    );
  });

  test("EWMA reproduces the NIST handbook's statistics and steady-state limits, and finds the process in control", () => {
    const r = evaluateSeries(samples(NIST_EWMA), {
      limits: { mean: 50, sigma: 2.0539 },
      rules: [],
      ewma: { lambda: 0.3, L: 3 },
    });
    const z = r.points.map((p) => Number(p.ewma!.z.toFixed(2)));
    assert.deepEqual(z.slice(0, 3), [50.6, 49.52, 50.56]);
    assert.deepEqual(z.slice(-4), [50.73, 51.23, 51.94, 51.99]);
    const last = r.points.at(-1)!.ewma!;
    near(last.ucl, 52.5884, 1e-3, "UCL");
    near(last.lcl, 47.4115, 1e-3, "LCL");
    const first = r.points[0]!.ewma!;
    assert.ok(first.ucl < last.ucl, "the limits are time-varying: narrower for the first points");
    assert.deepEqual(r.episodes, []);
  });

  test("the tabular CUSUM reproduces Montgomery & Runger's Table 16-8 sum by sum, never beyond H = 10", () => {
    const r = evaluateSeries(samples(RUNGER_CUSUM), {
      limits: { mean: 99, sigma: 2 },
      rules: [],
      cusum: true,
    });
    const high = [2.0, 0, 0, 0, 2.0, 0.5, 0, 0, 0, 0, 1.3, 0, 1.1, 0, 0, 0, 0.3, 1.7, 0, 1.0];
    const low = [0, 3.2, 2.9, 2.5, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 1.0, 2.3, 0, 0, 0.8, 0];
    assert.deepEqual(
      r.points.map((p) => Number(p.cusum!.high.toFixed(1))),
      high,
    );
    assert.deepEqual(
      r.points.map((p) => Number(p.cusum!.low.toFixed(1))),
      low,
    );
    assert.deepEqual(r.episodes, []);
  });

  test("on Montgomery's 1σ shift, rule 1 sees nothing while the CUSUM (C⁺ = 5.28, N⁺ = 7) and the EWMA signal at period 29", () => {
    const limits = { mean: 10, sigma: 1 };
    assert.deepEqual(fired(MONTGOMERY_SHIFT, { limits, rules: [1] }), []);
    // Western Electric's run rule 4 (eight on one side) sees it only at period 30, a point later.
    assert.deepEqual(fired(MONTGOMERY_SHIFT, { limits, rules: "western-electric" }), ["we-4@29"]);

    const cusum = evaluateSeries(samples(MONTGOMERY_SHIFT), { limits, rules: [1], cusum: true });
    assert.deepEqual(
      cusum.episodes.map((e) => `${e.rule.id}@${e.index}`),
      ["cusum@28"],
    );
    const signal = cusum.episodes[0]!;
    near(signal.statistic!, 5.28, 0.005, "C⁺ at period 29");
    assert.equal(signal.points.length, 7, "N⁺ = 7: the sum has been rising since period 23");
    assert.equal(signal.points[0]!.index, 22);
    assert.equal(signal.upperControlLimit, 5);
    assert.equal(signal.lowerControlLimit, -5);

    assert.deepEqual(fired(MONTGOMERY_SHIFT, { limits, rules: [1], ewma: { lambda: 0.1, L: 2.7 } }), [
      "ewma@28",
    ]);
  });
});

describe("spc - each run rule fires on a series built for it, and not on one just short of it", () => {
  const limits = { mean: 0, sigma: 1 };
  const nelson = (values: number[]) => fired(values, { limits, rules: "nelson" });
  const we = (values: number[]) => fired(values, { limits, rules: "western-electric" });
  const pairs = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => (i % 4 < 2 ? a : b));

  const cases: [rule: string, fires: number[], short: number[], at: number][] = [
    ["nelson-1: one point beyond 3σ (exactly 3σ is not beyond)", [0.5, -0.5, 3.5], [0.5, -0.5, 3], 2],
    ["nelson-2: nine in a row on one side", pairs(0.2, 0.6, 9), pairs(0.2, 0.6, 8), 8],
    ["nelson-3: six in a row increasing", [-0.5, -0.3, -0.1, 0.1, 0.3, 0.5], [-0.3, -0.1, 0.1, 0.3, 0.5], 5],
    ["nelson-4: fourteen alternating up and down", alternate(14), alternate(13), 13],
    ["nelson-5: two of three beyond 2σ on one side", [2.5, 0, 2.5], [2.5, 0, 0, 2.5], 2],
    ["nelson-6: four of five beyond 1σ on one side", [1.5, 1.5, 0, 1.5, 1.5], [1.5, 1.5, 0, 0, 1.5, 1.5], 4],
    ["nelson-7: fifteen within 1σ", pairs(0.5, -0.5, 15), pairs(0.5, -0.5, 14), 14],
    ["nelson-8: eight beyond 1σ, either side", pairs(1.5, -1.5, 8), pairs(1.5, -1.5, 7), 7],
  ];
  for (const [name, fires, short, at] of cases) {
    const id = name.slice(0, name.indexOf(":"));
    test(`${name}: exactly that rule fires, at the point that completes the pattern`, () => {
      assert.deepEqual(nelson(fires), [`${id}@${at}`]);
      assert.deepEqual(nelson(short), []);
    });
  }

  test("a trend down is a trend too, and a repeated value breaks it", () => {
    assert.deepEqual(nelson([0.5, 0.3, 0.1, -0.1, -0.3, -0.5]), ["nelson-3@5"]);
    assert.deepEqual(nelson([0.5, 0.3, 0.1, 0.1, -0.1, -0.3, -0.5]), []);
  });

  test("two beyond 2σ on opposite sides are not rule 5; a point on the center line breaks rule 2's run", () => {
    assert.deepEqual(nelson([2.5, 0, -2.5]), []);
    assert.deepEqual(nelson([...pairs(0.2, 0.6, 4), 0, ...pairs(0.2, 0.6, 4)]), []);
  });

  test("Western Electric rules 1-4: 3σ, 2 of 3 beyond 2σ, 4 of 5 beyond 1σ, 8 in a row on one side (Nelson wants 9)", () => {
    assert.deepEqual(we([0.5, -0.5, 3.5]), ["we-1@2"]);
    assert.deepEqual(we([2.5, 0, 2.5]), ["we-2@2"]);
    assert.deepEqual(we([1.5, 1.5, 0, 1.5, 1.5]), ["we-3@4"]);
    assert.deepEqual(we(pairs(0.2, 0.6, 8)), ["we-4@7"]);
    assert.deepEqual(we(pairs(0.2, 0.6, 7)), []);
    assert.deepEqual(nelson(pairs(0.2, 0.6, 8)), []);
  });

  test("rules are selectable per chart by Nelson number: [1, 2, 5] runs those three only", () => {
    const values = [2.5, 0, 2.5, ...pairs(0.5, -0.5, 15)];
    assert.deepEqual(fired(values, { limits, rules: [1, 2, 5] }), ["nelson-5@2"]);
    assert.deepEqual(fired(values, { limits, rules: [7] }), ["nelson-7@17"]);
    assert.throws(() => new SpcChart({ limits, rules: [9] }), isCode("QUALITY_SPC_OPTIONS_INVALID"));
  });

  function alternate(n: number): number[] {
    return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 0.5 : -0.5));
  }
});

describe("spc - limits", () => {
  test("limits computed from a baseline are frozen: a later drift does not move them, it is flagged against them", () => {
    const chart = new SpcChart({ baseline: 10, rules: "nelson" });
    const feed = samples([...NIST_IMR, ...Array.from({ length: 30 }, (_, i) => 50.81 + i * 0.5)]);
    const updates = feed.map((s) => chart.add(s));
    assert.deepEqual(
      updates.slice(0, 9).map((u) => u.judged.length),
      [0, 0, 0, 0, 0, 0, 0, 0, 0],
      "nothing is judged while the baseline fills",
    );
    assert.equal(
      updates[9]!.judged.length,
      10,
      "the point completing the baseline judges the whole baseline",
    );
    near(chart.limits!.ucl, 55.8041, 1e-4, "UCL after the drift");
    near(chart.limits!.center, 50.81, 1e-9, "center after the drift");
    const started = updates.flatMap((u) => u.started.map((v) => v.rule.id));
    assert.ok(started.includes("nelson-1"), `the drift crosses the frozen UCL: ${started.join(", ")}`);
    assert.ok(started.includes("nelson-3"), "and is a trend");
  });

  test("configured limits are used from the first point; limits and baseline together are refused by name", () => {
    const chart = new SpcChart({ limits: { mean: 10, sigma: 0.5 } });
    assert.equal(chart.limits!.ucl, 11.5);
    assert.equal(chart.add({ time: new Date(T0), value: 12 }).started[0]?.rule.id, "nelson-1");
    assert.throws(
      () => new SpcChart({ limits: { mean: 10, sigma: 0.5 }, baseline: 20 }),
      (err: unknown) => isCode("QUALITY_SPC_OPTIONS_INVALID")(err) && /limits and baseline/.test(String(err)),
    );
    assert.throws(
      () => new SpcChart({ limits: { mean: 10, sigma: 0 } }),
      isCode("QUALITY_SPC_OPTIONS_INVALID"),
    );
    assert.throws(() => new SpcChart({ baseline: 1 }), isCode("QUALITY_SPC_OPTIONS_INVALID"));
  });

  test("a point that is not a finite number is refused and changes nothing", () => {
    const chart = new SpcChart({ limits: { mean: 0, sigma: 1 } });
    assert.throws(
      () => chart.add({ time: new Date(T0), value: Number.NaN }),
      isCode("QUALITY_SPC_POINT_INVALID"),
    );
    assert.equal(
      chart.add({ time: new Date(T0), value: 4 }).started[0]?.index,
      0,
      "the next point is point 0",
    );
  });
});

describe("spc - X̄–R charts", () => {
  test("the A2, D3, D4 constants for n = 2..10 agree with d2: A2 = 3/(d2·√n), D3 + D4 = 2 where D3 > 0", () => {
    for (let n = MIN_SUBGROUP; n <= MAX_SUBGROUP; n++) {
      const c = subgroupConstants(n)!;
      near(c.a2, 3 / (c.d2 * Math.sqrt(n)), 0.002, `A2(${n})`);
      if (n < 7) assert.equal(c.d3, 0, `D3(${n})`);
      else near(c.d3 + c.d4, 2, 0.001, `D3 + D4 (${n})`);
    }
    assert.deepEqual(
      [2, 5, 10].map((n) => subgroupConstants(n)),
      [
        { n: 2, d2: 1.128, a2: 1.88, d3: 0, d4: 3.267 },
        { n: 5, d2: 2.326, a2: 0.577, d3: 0, d4: 2.114 },
        { n: 10, d2: 3.078, a2: 0.308, d3: 0.223, d4: 1.777 },
      ],
    );
    assert.equal(subgroupConstants(11), undefined);
  });

  test("limits from baseline subgroups are X̿ ± A2·R̄, sigma R̄/d2, and a subgroup mean beyond them fires rule 1", () => {
    // Four subgroups of 3 with means 10, 11, 9, 10 and ranges 2, 2, 2, 2: X̿ = 10, R̄ = 2.
    const base = [
      [9, 10, 11],
      [10, 11, 12],
      [8, 9, 10],
      [9, 10, 11],
    ];
    const r = evaluateSeries(samples([...base, [13, 14, 15]]), { subgroupSize: 3, baseline: 4 });
    const limits = r.limits!;
    assert.equal(limits.center, 10);
    near(limits.ucl, 10 + 1.023 * 2, 1e-9, "UCL");
    near(limits.lcl, 10 - 1.023 * 2, 1e-9, "LCL");
    near(limits.processSigma, 2 / 1.693, 1e-9, "sigma");
    near(limits.range.ucl, 2.574 * 2, 1e-9, "R chart UCL");
    assert.deepEqual(
      r.episodes.map((e) => [e.rule.id, e.index, e.value]),
      [["nelson-1", 4, 14]],
    );
  });

  test("the range chart's test fires on a subgroup whose spread grew though its mean did not move (R > D4·R̄)", () => {
    const base = [
      [9, 10, 11],
      [10, 11, 12],
      [8, 9, 10],
      [9, 10, 11],
    ];
    const wide = [4, 10, 16]; // mean 10, range 12 > 2.574 × 2
    const r = evaluateSeries(samples([...base, wide]), {
      subgroupSize: 3,
      baseline: 4,
      rules: "nelson",
      range: true,
    });
    assert.deepEqual(
      r.episodes.map((e) => [e.rule.id, e.rule.ruleSet, e.rule.ruleNumber, e.index, e.statistic]),
      [["range", "CUSTOM", 3, 4, 12]],
    );
    near(r.episodes[0]!.upperControlLimit, 2.574 * 2, 1e-9, "R chart UCL");
    // Individuals: a jump of 4σ is a moving range beyond 3.267 × 1.128σ = 3.685σ.
    assert.deepEqual(fired([0, 0.5, 4.5, 4.6], { limits: { mean: 2, sigma: 1 }, rules: [], range: true }), [
      "range@2",
    ]);
  });

  test("configured limits chart subgroup means with sigma/√n; a subgroup of another size is refused", () => {
    const chart = new SpcChart({ subgroupSize: 4, limits: { mean: 100, sigma: 2 } });
    assert.equal(chart.limits!.sigma, 1);
    assert.equal(chart.limits!.ucl, 103);
    assert.throws(
      () => chart.add({ time: new Date(T0), value: [1, 2, 3] }),
      isCode("QUALITY_SPC_POINT_INVALID"),
    );
    assert.throws(() => new SpcChart({ subgroupSize: 11 }), isCode("QUALITY_SPC_OPTIONS_INVALID"));
  });
});

describe("spc - episodes", () => {
  const limits = { mean: 0, sigma: 1 };

  test("a run that keeps violating a rule is one episode: started once, ended once at the first point back in", () => {
    const chart = new SpcChart({ limits, rules: [1] });
    const values = [0, 4, 4.5, 5, 3.5, 0.2, 0.1];
    const updates = samples(values).map((s) => chart.add(s));
    assert.deepEqual(
      updates.map((u) => u.started.length),
      [0, 1, 0, 0, 0, 0, 0],
    );
    assert.deepEqual(
      updates.map((u) => u.ended.map((e) => `${e.rule.id} ${e.startIndex}-${e.index}`)),
      [[], [], [], [], [], ["nelson-1 1-5"], []],
    );
    assert.deepEqual(chart.openEpisodes, []);
  });

  test("a second excursion is a second episode; an episode still running at the end has no end", () => {
    const r = evaluateSeries(samples([4, 0, 0, 4, 4]), { limits, rules: [1] });
    assert.deepEqual(
      r.episodes.map((e) => [e.index, e.endIndex]),
      [
        [0, 1],
        [3, null],
      ],
    );
  });

  test("the batch function and the streaming chart report the same episodes", () => {
    const options: SpcChartOptions = { baseline: 10, rules: "nelson", cusum: true, ewma: true };
    const series = samples([...NIST_IMR, ...MONTGOMERY_SHIFT.map((v) => v + 40.81)]);
    const chart = new SpcChart(options);
    const streamed = series.flatMap((s) => chart.add(s).started.map((v) => `${v.rule.id}@${v.index}`));
    assert.ok(streamed.length > 0);
    assert.deepEqual(
      evaluateSeries(series, options).episodes.map((e) => `${e.rule.id}@${e.index}`),
      streamed,
    );
  });

  test("a violation fills SpcViolationDetected's fields: rule set and number, description, limits, points", () => {
    const r = evaluateSeries(samples([2.5, 0, 2.5]), {
      limits: { mean: 0, sigma: 1 },
      rules: "western-electric",
    });
    const fields = violationEventFields(r.episodes[0]!);
    assert.equal(fields.ruleSet, "WESTERN_ELECTRIC");
    assert.equal(fields.ruleNumber, 2);
    assert.match(fields.ruleDescription, /2 of 3 consecutive points beyond 2 sigma on the same side/);
    assert.deepEqual([fields.lowerControlLimit, fields.centerLine, fields.upperControlLimit], [-3, 0, 3]);
    assert.deepEqual(
      fields.points.map((p) => [p.value, p.measuredAt.toISOString(), p.inspectionId]),
      [
        [2.5, "2026-03-02T06:00:00.000Z", null],
        [2.5, "2026-03-02T06:02:00.000Z", null],
      ],
    );
  });

  test("every kind of violation (run rule, CUSUM, EWMA) encodes as an SpcViolationDetected and reads back the same", () => {
    const codec = new EventCodec();
    const r = evaluateSeries(samples(MONTGOMERY_SHIFT), {
      limits: { mean: 10, sigma: 1 },
      rules: "western-electric",
      cusum: true,
      ewma: { lambda: 0.1, L: 2.7 },
    });
    assert.deepEqual(new Set(r.episodes.map((e) => e.rule.ruleSet)), new Set(["WESTERN_ELECTRIC", "CUSTOM"]));
    for (const v of r.episodes) {
      const payload = {
        violationId: `v-${v.rule.id}-${v.index}`,
        equipment: { site: "plant-lyon", line: "line-1", machine: "press-1" },
        characteristic: "bore-diameter",
        detectedAt: new Date(T0 + 3_600_000),
        ...violationEventFields(v),
      };
      const bytes = codec.encode("mfg.quality.spc_violation_detected.v1", payload);
      const back = codec.decodeKnown<SpcViolationDetected>(bytes).value;
      assert.equal(back.ruleNumber, v.rule.ruleNumber);
      assert.equal(back.upperControlLimit, v.upperControlLimit);
      assert.equal(back.points.length, v.points.length);
    }
  });
});
