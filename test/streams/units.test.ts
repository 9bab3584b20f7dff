/**
 * Units of measure: exact conversion with Odoo's factors and rounding (16–18 categories, 19 relative
 * factors), refusals naming both units, and a table that refuses a factor of zero.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type RoundingMethod,
  UnitCategoryMismatchError,
  UnitFactorInvalidError,
  type UnitRecord,
  UnitTableInvalidError,
  UnitUnknownError,
  unitTable,
} from "../../streams/src/index.js";

/** Odoo 16–18's standard units as its uom_data.xml creates them (factors as Odoo stores the floats). */
const ODOO_17: UnitRecord[] = [
  { name: "Units", category: "Unit", factor: 1, type: "reference", rounding: 0.01 },
  { name: "Dozens", category: "Unit", factor: 1 / 12, type: "bigger", rounding: 0.01 },
  { name: "kg", category: "Weight", factor: 1, type: "reference", rounding: 0.01 },
  { name: "g", category: "Weight", factor: 1000, type: "smaller", rounding: 0.01 },
  { name: "t", category: "Weight", factor: 0.001, type: "bigger", rounding: 0.01 },
  { name: "lb", category: "Weight", factor: 2.20462, type: "smaller", rounding: 0.01 },
  { name: "L", category: "Volume", factor: 1, type: "reference", rounding: 0.01 },
];

/** Odoo 19's: a unit contains `relative_factor` of its reference unit. */
const ODOO_19: UnitRecord[] = [
  { name: "Units", rounding: 0.01 },
  { name: "Dozens", relativeFactor: 12, relativeUnit: "Units", rounding: 0.01 },
  { name: "Pack of 6", relativeFactor: 6, relativeUnit: "Units", rounding: 0.01 },
  { name: "Case of 4 packs", relativeFactor: 4, relativeUnit: "Pack of 6", rounding: 0.01 },
  { name: "kg", rounding: 0.01 },
  { name: "g", relativeFactor: 0.001, relativeUnit: "kg", rounding: 0.01 },
  { name: "lb", relativeFactor: 0.45359237, relativeUnit: "kg", rounding: 0.01 },
];

describe("units - conversion as Odoo stores it", () => {
  test("Odoo 16–18: 24 Units are 2 Dozens and 2 Dozens 24 Units, though Dozens' factor is 0.08333333333333333", () => {
    const t = unitTable(ODOO_17);
    assert.equal(t.kind, "category");
    assert.deepEqual(t.convert({ value: "24", uom: "Units" }, "Dozens"), { value: "2.00", uom: "Dozens" });
    assert.deepEqual(t.convert({ value: "2", uom: "Dozens" }, "Units"), { value: "24.00", uom: "Units" });
    assert.deepEqual(t.convert({ value: "0.4", uom: "kg" }, "g"), { value: "400.00", uom: "g" });
    assert.deepEqual(t.convert({ value: "1234.5", uom: "g" }, "t"), { value: "0.01", uom: "t" });
  });

  test("the rounding method decides a quantity between two steps: UP (Odoo's default), DOWN, HALF-UP", () => {
    const t = unitTable(ODOO_17);
    const seven = { value: "7", uom: "Units" }; // 0.58333… Dozens
    assert.equal(t.convert(seven, "Dozens").value, "0.59");
    assert.equal(t.convert(seven, "Dozens", { rounding: "DOWN" }).value, "0.58");
    assert.equal(t.convert(seven, "Dozens", { rounding: "HALF-UP" }).value, "0.58");
    assert.equal(t.convert({ value: "-7", uom: "Units" }, "Dozens").value, "-0.59", "UP is away from zero");
    assert.equal(t.convert({ value: "30", uom: "Units" }, "Dozens", { rounding: "HALF-UP" }).value, "2.50");
    assert.equal(
      t.convert({ value: "0.06", uom: "Units" }, "Dozens", { rounding: "HALF-UP" }).value,
      "0.01",
      "half a step: away from zero",
    );
  });

  test("Odoo 16–18 round a 'conversion' to the same unit HALF-UP whatever is asked; 19 keeps the method", () => {
    assert.equal(unitTable(ODOO_17).convert({ value: "1.001", uom: "kg" }, "kg").value, "1.00");
    assert.equal(unitTable(ODOO_19).convert({ value: "1.001", uom: "kg" }, "kg").value, "1.01");
  });

  test("Odoo 19: factors multiply along the reference chain — a case of 4 packs of 6 holds 2 Dozens", () => {
    const t = unitTable(ODOO_19);
    assert.equal(t.kind, "relative");
    assert.deepEqual(t.convert({ value: "1", uom: "Case of 4 packs" }, "Dozens"), {
      value: "2.00",
      uom: "Dozens",
    });
    assert.equal(t.convert({ value: "250", uom: "g" }, "kg").value, "0.25");
    assert.equal(t.convert({ value: "10", uom: "lb" }, "kg").value, "4.54");
    assert.equal(t.convert({ value: "10", uom: "lb" }, "g", { rounding: "HALF-UP" }).value, "4535.92");
  });

  test("a rounding of 1 gives whole units, written without decimals", () => {
    const t = unitTable([
      { name: "Units", category: "Unit", factor: 1, rounding: 1 },
      { name: "Dozens", category: "Unit", factor: "0.0833333333333333333333", rounding: 1 },
    ]);
    assert.equal(t.convert({ value: "13", uom: "Units" }, "Dozens").value, "2");
    assert.equal(t.convert({ value: "1.5", uom: "Dozens" }, "Units").value, "18");
  });

  test("zero converts to zero in the target's places, even across categories, as Odoo returns a zero quantity before any check", () => {
    const t = unitTable(ODOO_17);
    assert.deepEqual(t.convert({ value: "0.000000", uom: "g" }, "kg"), { value: "0.00", uom: "kg" });
    assert.deepEqual(t.convert({ value: "0", uom: "kg" }, "Units"), { value: "0.00", uom: "Units" });
    assert.throws(() => t.convert({ value: "0", uom: "jar" }, "Units"), UnitUnknownError);
  });
});

describe("units - the master data's ratios", () => {
  /** The same units as Unit events carry them: the ratio Odoo's form shows, exact. */
  const BY_RATIO: UnitRecord[] = [
    { name: "Units", category: "Unit", ratio: "1", type: "reference", rounding: "0.01" },
    { name: "Dozens", category: "Unit", ratio: "12", type: "bigger", rounding: "0.01" },
    { name: "kg", category: "Weight", ratio: "1", type: "reference", rounding: "0.01" },
    { name: "g", category: "Weight", ratio: "1000", type: "smaller", rounding: "0.01" },
    { name: "t", category: "Weight", ratio: "1000", type: "bigger", rounding: "0.01" },
    { name: "lb", category: "Weight", ratio: "2.20462", type: "smaller", rounding: "0.01" },
  ];

  test("a ratio converts as Odoo's factor does, and a Dozen is exactly 12 Units", () => {
    const byRatio = unitTable(BY_RATIO);
    const byFactor = unitTable(ODOO_17);
    for (const [value, from, to] of [
      ["24", "Units", "Dozens"],
      ["7", "Units", "Dozens"],
      ["1234.5", "g", "t"],
      ["3.3", "lb", "kg"],
    ] as const)
      assert.deepEqual(
        byRatio.convert({ value, uom: from }, to),
        byFactor.convert({ value, uom: from }, to),
        `${value} ${from} → ${to}`,
      );
    assert.deepEqual(byRatio.unit("Dozens")?.size, { num: 12n, den: 1n });
  });

  test("a ratio needs its type, a reference unit's ratio is 1, and factor and ratio are not both given", () => {
    const refused = (r: UnitRecord, pattern: RegExp) =>
      assert.throws(
        () => unitTable([r]),
        (e: unknown) => e instanceof UnitTableInvalidError && pattern.test((e as Error).message),
      );
    refused({ name: "Box", category: "Unit", ratio: "10" }, /Box.*type/);
    refused({ name: "Units", category: "Unit", ratio: "2", type: "reference" }, /Units.*ratio 1/);
    refused({ name: "Box", category: "Unit", ratio: "10", factor: 0.1, type: "bigger" }, /Box.*not both/);
    assert.throws(
      () => unitTable([{ name: "Box", category: "Unit", ratio: "0", type: "bigger" }]),
      UnitFactorInvalidError,
    );
  });
});

describe("units - refusals name both units", () => {
  test("across categories (16–18) and across reference trees (19): UOM_CATEGORY_MISMATCH", () => {
    for (const records of [ODOO_17, ODOO_19]) {
      const err = catchError(() => unitTable(records).convert({ value: "0.4", uom: "kg" }, "Units"));
      assert.ok(err instanceof UnitCategoryMismatchError);
      assert.equal(err.code, "UOM_CATEGORY_MISMATCH");
      assert.equal(err.retryable, false, "a handler letting it through dead-letters the event");
      assert.equal(err.from, "kg");
      assert.equal(err.to, "Units");
      assert.match(err.message, /cannot convert kg .* to Units /);
    }
  });

  test("an unknown unit, on either side or both: UOM_UNKNOWN naming both units and the unknown ones", () => {
    const t = unitTable(ODOO_17);
    const one = catchError(() => t.convert({ value: "3", uom: "jar" }, "Units"));
    assert.ok(one instanceof UnitUnknownError);
    assert.equal(one.code, "UOM_UNKNOWN");
    assert.deepEqual(one.unknown, ["jar"]);
    assert.match(one.message, /^cannot convert jar to Units: "jar" is not a known unit/);
    const both = catchError(() => t.convert({ value: "3", uom: "jar" }, "cases"));
    assert.ok(both instanceof UnitUnknownError);
    assert.deepEqual(both.unknown, ["jar", "cases"]);
  });

  test("a factor, relative factor or rounding of zero is refused when the table is built, naming the unit", () => {
    const cases: UnitRecord[][] = [
      [{ name: "Crate", category: "Unit", factor: 0 }],
      [{ name: "Units" }, { name: "Crate", relativeFactor: "0", relativeUnit: "Units" }],
      [{ name: "kg", category: "Weight", factor: 1, rounding: 0 }],
      [{ name: "kg", category: "Weight", factor: "-1" }],
      [{ name: "kg", category: "Weight", factor: "a lot" }],
    ];
    for (const records of cases) {
      const err = catchError(() => unitTable(records));
      assert.ok(err instanceof UnitFactorInvalidError, JSON.stringify(records));
      assert.equal(err.code, "UOM_FACTOR_INVALID");
    }
  });

  test("tables Odoo would not hold are refused: reference ≠ 1, missing or circular reference, duplicates, mixed kinds", () => {
    const cases: [UnitRecord[], RegExp][] = [
      [[{ name: "kg", category: "Weight", factor: 2, type: "reference" }], /reference unit has factor 1/],
      [[{ name: "Dozens", relativeFactor: 12 }], /contains 1 of itself/],
      [[{ name: "Dozens", relativeFactor: 12, relativeUnit: "Units" }], /"Units" is not among/],
      [
        [
          { name: "a", relativeFactor: 2, relativeUnit: "b" },
          { name: "b", relativeFactor: 2, relativeUnit: "a" },
        ],
        /circle/,
      ],
      [
        [
          { name: "kg", category: "Weight", factor: 1 },
          { name: "kg", category: "Mass", factor: 1 },
        ],
        /two active units/,
      ],
      [[{ name: "kg", category: "Weight", factor: 1 }, { name: "Units" }], /mixes/],
    ];
    for (const [records, message] of cases) {
      const err = catchError(() => unitTable(records));
      assert.ok(err instanceof UnitTableInvalidError, JSON.stringify(records));
      assert.equal(err.code, "UOM_TABLE_INVALID");
      assert.match(err.message, message);
    }
  });

  test("an archived unit still converts, and an active one wins a name it shares with an archived one", () => {
    const t = unitTable([
      { name: "kg", category: "Weight", factor: 1 },
      { name: "g", category: "Weight", factor: 100, active: false }, // a wrong, archived g
      { name: "g", category: "Weight", factor: 1000 },
      { name: "Quintal", category: "Weight", factor: 0.01, active: false },
    ]);
    assert.equal(t.convert({ value: "1", uom: "kg" }, "g").value, "1000.00");
    assert.equal(t.convert({ value: "1", uom: "Quintal" }, "kg").value, "100.00");
  });
});

// ------------------------------------------------------------------------------------ properties

/** Factors as Odoo 16–18 store them (floats' shortest text), sizes of units people use. */
const FACTORS = [
  "1",
  "12",
  "0.08333333333333333",
  "1000",
  "0.001",
  "2.20462",
  "35.274",
  "0.5",
  "6",
  "0.1666666666666667",
];
const ROUNDINGS = ["0.01", "0.001", "1", "0.5", "0.0001", "0.05"];
const METHODS: RoundingMethod[] = ["UP", "DOWN", "HALF-UP"];
/** Quantities as events carry them: at most 6 decimal places. */
const quantity = fc
  .tuple(fc.bigInt({ min: -10_000_000_000n, max: 10_000_000_000n }), fc.integer({ min: 0, max: 6 }))
  .map(([n, places]) => decimal(n, places));

const pair = fc.record({
  from: fc.constantFrom(...FACTORS),
  to: fc.constantFrom(...FACTORS),
  fromRounding: fc.constantFrom(...ROUNDINGS),
  toRounding: fc.constantFrom(...ROUNDINGS),
  method: fc.constantFrom(...METHODS),
});

function table(p: { from: string; to: string; fromRounding: string; toRounding: string }) {
  return unitTable([
    { name: "A", category: "C", factor: p.from, rounding: p.fromRounding },
    { name: "B", category: "C", factor: p.to, rounding: p.toRounding },
  ]);
}

describe("units - properties", () => {
  test("the result is a multiple of the target's rounding, within one step of the exact value", () => {
    fc.assert(
      fc.property(quantity, pair, (q, p) => {
        const out = table(p).convert({ value: q, uom: "A" }, "B", { rounding: p.method }).value;
        // exact = q / from × to, compared in integers: out × from − q × to, scaled by the step.
        const [o, os] = fraction(out);
        const [x, xs] = fraction(q);
        const [f, fs] = fraction(p.from);
        const [t, ts] = fraction(p.to);
        const [s, ss] = fraction(p.toRounding);
        const den = os * xs * fs * ts * ss;
        const outN = (o * den) / os;
        const exactN = (((x * t * den) / xs / ts) * fs) / f; // exact value × den, may truncate: compare loosely
        const stepN = (s * den) / ss;
        assert.equal(outN % stepN, 0n, `${out} is a multiple of ${p.toRounding}`);
        const diff = outN - exactN;
        const tolerance = stepN + 1n;
        assert.ok(diff <= tolerance && diff >= -tolerance, `${q} A → ${out} B within a step`);
      }),
      { numRuns: 400 },
    );
  });

  test("matches Odoo's own float computation wherever its floats are not at a rounding boundary", () => {
    fc.assert(
      fc.property(quantity, pair, (q, p) => {
        const out = table(p).convert({ value: q, uom: "A" }, "B", { rounding: p.method }).value;
        const odoo = odooFloat(Number(q), Number(p.from), Number(p.to), Number(p.toRounding), p.method);
        if (odoo === undefined) return; // at a boundary: Odoo's float noise decides, not the value
        const places = (p.toRounding.split(".")[1] ?? "").length;
        assert.equal(out, odoo.toFixed(places), `${q} A (factor ${p.from}) → B (factor ${p.to})`);
      }),
      { numRuns: 1000 },
    );
  });

  test("round trip A → B → A lands within the rounding of both units", () => {
    fc.assert(
      fc.property(quantity, pair, (q, p) => {
        const t = table(p);
        const there = t.convert({ value: q, uom: "A" }, "B", { rounding: p.method });
        const back = t.convert(there, "A", { rounding: p.method }).value;
        // |back − q| ≤ step(A) + step(B) expressed in A, with room for the two roundings' ε.
        const slack = Number(p.fromRounding) + (Number(p.toRounding) * Number(p.from)) / Number(p.to);
        assert.ok(
          Math.abs(Number(back) - Number(q)) <= slack * 1.000001 + 1e-9,
          `${q} → ${there.value} → ${back}`,
        );
      }),
      { numRuns: 400 },
    );
  });

  test("the stored result never goes through a float: quantities beyond 2^53 keep every digit", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 10n ** 16n, max: 10n ** 24n }), (n) => {
        const t = unitTable(ODOO_17);
        assert.equal(t.convert({ value: `${n}.25`, uom: "kg" }, "g").value, `${n}250.00`);
        // 19's Dozens contain exactly 12 Units (16–18's factor 0.08333333333333333 is not 1/12 at this size).
        const dozens = unitTable(ODOO_19).convert({ value: `${n}`, uom: "Units" }, "Dozens", {
          rounding: "DOWN",
        });
        assert.equal(dozens.value, floorDozens(n));
      }),
    );
  });

  test("Odoo 19 relative factors give what 16–18 categories give for the same units", () => {
    const old = unitTable(ODOO_17);
    const now = unitTable(ODOO_19);
    const pairs: [string, string][] = [
      ["Units", "Dozens"],
      ["Dozens", "Units"],
      ["kg", "g"],
      ["g", "kg"],
    ];
    fc.assert(
      fc.property(quantity, fc.constantFrom(...pairs), fc.constantFrom(...METHODS), (q, [a, b], method) => {
        assert.equal(
          old.convert({ value: q, uom: a }, b, { rounding: method }).value,
          now.convert({ value: q, uom: a }, b, { rounding: method }).value,
        );
      }),
      { numRuns: 400 },
    );
  });
});

// ------------------------------------------------------------------------------------ helpers

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected an error");
}

function decimal(n: bigint, places: number): string {
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(places + 1, "0");
  const text = places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`;
  return neg ? `-${text}` : text;
}

/** "12.50" → [1250n, 100n]. */
function fraction(text: string): [bigint, bigint] {
  const [whole, frac = ""] = text.split(".");
  return [BigInt(`${whole}${frac}`.replace(/^(-?)0+(?=\d)/, "$1")), 10n ** BigInt(frac.length)];
}

function floorDozens(n: bigint): string {
  const cents = (n * 100n) / 12n;
  return decimal(cents, 2);
}

/**
 * Odoo 16–18's computation in doubles, as uom_uom.py `_compute_quantity` and float_utils.py
 * `float_round` do it; undefined when the normalised value is within 1e-9 of a rounding boundary.
 */
function odooFloat(
  qty: number,
  fromFactor: number,
  toFactor: number,
  step: number,
  method: RoundingMethod,
): number | undefined {
  if (qty === 0) return 0;
  const amount = (qty / fromFactor) * toFactor;
  const n = amount / step;
  const boundary = method === "HALF-UP" ? Math.round(Math.abs(n) - 0.5) + 0.5 : Math.round(Math.abs(n));
  if (Math.abs(Math.abs(n) - boundary) <= 1e-9 * Math.max(1, Math.abs(n))) return undefined;
  const sign = Math.sign(n);
  const epsilon = 2 ** (Math.log2(Math.abs(n)) - 52);
  const steps =
    method === "UP"
      ? Math.ceil(Math.abs(n) - epsilon)
      : method === "DOWN"
        ? Math.floor(Math.abs(n) + epsilon)
        : Math.round(Math.abs(n) + epsilon);
  return sign * steps * step;
}
