/** Reconciliation's quantities are exact decimals: sums, BoM ratios and Odoo's floats, no drift. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  divideMicros,
  formatMicros,
  microsOf,
  microsOfFloat,
  microsToNumber,
  mulDivMicros,
  sumMicros,
} from "../../streams/src/index.js";

describe("reconcile decimals - exact quantities", () => {
  test("ten reports of 0.1 kg add up to exactly 1 kg (floats make 0.9999999999999999)", () => {
    const reports = Array.from({ length: 10 }, () => "0.100000");
    assert.notEqual(
      reports.reduce((s, q) => s + Number(q), 0),
      1,
    );
    const total = sumMicros(reports.map(microsOf));
    assert.equal(total, microsOf("1"));
    assert.equal(formatMicros(total), "1");
  });

  test("0.1 + 0.2 is 0.3, and taking 0.3 away leaves exactly nothing", () => {
    const total = microsOf("0.1") + microsOf("0.2");
    assert.equal(formatMicros(total), "0.3");
    assert.equal(total - microsOf("0.3"), 0n);
    assert.equal(microsToNumber(total), 0.3);
  });

  test("Odoo's floats are rounded to micro-units once: its 0.1 + 0.2 equals the event's 0.3", () => {
    assert.equal(microsOfFloat(0.1 + 0.2), microsOf("0.3"));
    assert.equal(microsOfFloat(12.3456789), microsOf("12.345679"));
    assert.equal(microsOfFloat(false), 0n);
    assert.equal(microsOfFloat(Number.NaN), 0n);
  });

  test("a BoM line scaled to the order is exact to the micro-unit, halves rounded away from zero", () => {
    // 3 caps per 7 jars, 10 jars produced: 30 / 7 = 4.285714…
    assert.equal(formatMicros(mulDivMicros(microsOf("3"), microsOf("10"), microsOf("7"))), "4.285714");
    // 0.333 kg per jar, 3 jars: exactly 0.999 kg.
    assert.equal(formatMicros(mulDivMicros(microsOf("0.333"), microsOf("3"), microsOf("1"))), "0.999");
    assert.equal(formatMicros(divideMicros(microsOf("0.000001"), 2n)), "0.000001");
    assert.equal(formatMicros(divideMicros(microsOf("-0.000001"), 2n)), "-0.000001");
    assert.equal(formatMicros(divideMicros(microsOf("0.01"), 2n)), "0.005");
  });

  test("an event quantity with more than six decimal places is refused, not rounded", () => {
    assert.throws(() => microsOf("0.0000001"), RangeError);
    assert.equal(microsOf("2.5000000"), microsOf("2.5"));
    assert.equal(formatMicros(microsOf("-12.500000")), "-12.5");
  });
});
