/**
 * A table of units of measure, built from plain unit records — the shape Odoo's `uom.uom` rows give —
 * and the conversion between them with Odoo's semantics in exact arithmetic (`Ratio`, bigint):
 *
 * - **Odoo 16–18** (addons/uom/models/uom_uom.py, `_compute_quantity`): a unit has a `category_id`
 *   and a `factor` — "1 × reference unit = factor × this unit" (Dozens 1/12, g 1000, the reference 1).
 *   `qty / from.factor × to.factor`, refused across categories (Odoo raises UserError when
 *   `raise_if_failure`, the default); converting to the same unit rounds HALF-UP whatever was asked.
 * - **Odoo 19**: categories are gone. A unit "contains" `relative_factor` of its `relative_uom_id`
 *   (Dozens contain 12 Units); its absolute `factor` is the product along that chain
 *   (`_compute_factor`); `qty × from.factor / to.factor`. Odoo 19's `_compute_quantity` no longer
 *   refuses anything (`raise_if_failure` is unused), but its `_has_common_reference` says whether two
 *   units share a root: Threadline refuses units without one, as 16–18 refuse two categories — a
 *   machine's kg are never booked as Units. The same-unit HALF-UP override is gone in 19: the method
 *   asked for applies.
 *
 * Either way the result is rounded to the target unit's `rounding` with `float_round` (rounding.ts).
 * Where Odoo's float arithmetic could differ: Odoo divides and multiplies doubles (each step within
 * one ulp), 19 also multiplies factors along the chain in doubles; here every step is exact and Odoo's
 * ε is applied once to the exact value. The results agree unless Odoo's accumulated float error
 * crosses a rounding boundary that its ε does not cover (a few ulps at a step's edge): this module
 * follows the exact value there, which is the one Odoo means.
 *
 * Factors given as numbers are read as the shortest decimal that prints them (what Odoo stores in
 * its NUMERIC column and sends over JSON), never as the binary double.
 */
import {
  UnitCategoryMismatchError,
  UnitFactorInvalidError,
  UnitQuantityInvalidError,
  UnitTableInvalidError,
  UnitUnknownError,
} from "./errors.js";
import { decimalPlaces, div, formatRatio, mul, ONE, parseRatio, type Ratio, sign } from "./exact.js";
import { type RoundingMethod, roundToStep } from "./rounding.js";

/**
 * One unit of measure as Odoo keeps it (`uom.uom`): give `category` and `factor` (Odoo 16–18) or
 * `relativeFactor` and `relativeUnit` (Odoo 19), not both; one table holds one kind.
 */
export interface UnitRecord {
  /** The unit's name, as quantities carry it ("Units", "kg", "Dozens"). */
  readonly name: string;
  /** Odoo 16–18 `category_id`: its name (or id). Units convert within one category. */
  readonly category?: string | number;
  /**
   * Odoo 16–18 `factor`: 1 × the category's reference unit = factor × this unit (g: 1000, Dozens:
   * 1/12 ≈ 0.08333333333333333, the reference: 1). A decimal string, or Odoo's float.
   */
  readonly factor?: string | number;
  /**
   * Odoo 16–18 ratio as its form shows it, exact where `factor` (a float for bigger units) is not: a
   * bigger unit is `ratio` reference units (Dozens: 12), `ratio` of a smaller unit make one reference
   * unit (g: 1000). Give it instead of `factor`, with `type`. The master data's Unit.ratio.
   */
  readonly ratio?: string | number;
  /** Odoo 16–18 `uom_type`: a `reference` unit must have factor 1 (as Odoo's constraint says). @default not checked */
  readonly type?: "reference" | "bigger" | "smaller";
  /** Odoo 19 `relative_factor`: how many `relativeUnit` this unit contains (Dozens: 12). @default 1 */
  readonly relativeFactor?: string | number;
  /** Odoo 19 `relative_uom_id`: the name of the unit this one is counted in; none for a root unit. */
  readonly relativeUnit?: string | null;
  /** Odoo's `rounding`: a converted quantity is a multiple of it. @default 0.01 (Odoo's default) */
  readonly rounding?: string | number;
  /** Archived units still convert (an old order may use one); an active unit wins a name clash. @default true */
  readonly active?: boolean;
}

/** A unit as the table holds it. */
export interface Unit {
  readonly name: string;
  /** The category's name (16–18), or the root unit's name (19): units of one convert. */
  readonly category: string;
  /** How many of the category's reference (root) units one of this unit is, exactly. */
  readonly size: Ratio;
  /** The rounding step of quantities in this unit. */
  readonly rounding: Ratio;
  /** Decimal places of `rounding`: converted quantities are written with these. */
  readonly places: number;
}

/** A quantity: an exact decimal string and its unit's name (the contracts' `Quantity`). */
export interface UnitQuantity {
  readonly value: string;
  readonly uom: string;
}

export interface ConvertOptions {
  /**
   * How the result is rounded to the target unit's rounding, as Odoo's float_round: `UP` (away from
   * zero), `DOWN` (towards zero) or `HALF-UP`. Odoo 16–18 round a conversion to the same unit HALF-UP
   * whatever is asked.
   * @default "UP" (the default of Odoo's `_compute_quantity`)
   */
  readonly rounding?: RoundingMethod;
}

const CONVERT_DEFAULTS: Required<ConvertOptions> = { rounding: "UP" };

/** Odoo's default rounding of a unit (`rounding = fields.Float(default=0.01)`). */
const DEFAULT_ROUNDING = "0.01";

export interface UnitTable {
  /** Which Odoo semantics the records gave: `category` (16–18) or `relative` (19); `empty` for none. */
  readonly kind: "category" | "relative" | "empty";
  /** The unit of that name, or undefined. */
  unit(name: string): Unit | undefined;
  /** Every unit held, active or not. */
  units(): readonly Unit[];
  /**
   * `quantity` in unit `to`, as Odoo would store it: converted exactly, rounded to `to`'s rounding.
   * Throws UnitUnknownError or UnitCategoryMismatchError (naming both units), UnitQuantityInvalidError.
   * Zero converts to zero across categories too, as Odoo returns a zero quantity before any check.
   */
  convert(quantity: UnitQuantity, to: string, options?: ConvertOptions): UnitQuantity;
}

/**
 * Builds a table from unit records. Refused, with the unit named: a factor, relative factor or
 * rounding that is zero, negative or not a number (UnitFactorInvalidError); a reference unit whose
 * factor is not 1, a 19 root unit whose relative factor is not 1, a relative unit that is not in the
 * records, a circular chain, two active units of one name, records of both kinds (UnitTableInvalidError).
 */
export function unitTable(records: Iterable<UnitRecord>): UnitTable {
  const list = [...records];
  const kinds = new Set(list.map(kindOf));
  if (kinds.size > 1) {
    const odd = list.find((r) => kindOf(r) !== kindOf(list[0] as UnitRecord)) as UnitRecord;
    throw new UnitTableInvalidError(
      odd.name,
      "mixes Odoo 16–18 categories and Odoo 19 relative units in one table; give one kind",
    );
  }
  const kind = list.length === 0 ? "empty" : kindOf(list[0] as UnitRecord);
  const byName = new Map<string, { record: UnitRecord; active: boolean }>();
  for (const r of list) {
    if (typeof r.name !== "string" || r.name.trim() === "")
      throw new UnitTableInvalidError(String(r.name), "a unit needs a name");
    const active = r.active ?? true;
    const seen = byName.get(r.name);
    if (seen?.active && active)
      throw new UnitTableInvalidError(
        r.name,
        "two active units have this name: quantities name their unit, so it must be unique",
      );
    if (!seen || (active && !seen.active)) byName.set(r.name, { record: r, active });
  }
  const units = new Map<string, Unit>();
  const resolve = (name: string, path: string[]): Unit => {
    const done = units.get(name);
    if (done) return done;
    const entry = byName.get(name);
    if (!entry)
      throw new UnitTableInvalidError(
        path.at(-1) ?? name,
        `its reference unit "${name}" is not among the units`,
      );
    if (path.includes(name))
      throw new UnitTableInvalidError(
        name,
        `its reference units go round in a circle (${[...path, name].join(" → ")})`,
      );
    const unit =
      kind === "category" ? categoryUnit(entry.record) : relativeUnit(entry.record, [...path, name], resolve);
    units.set(name, unit);
    return unit;
  };
  for (const name of byName.keys()) resolve(name, []);
  return new Table(kind, units);
}

function kindOf(r: UnitRecord): "category" | "relative" {
  return r.category !== undefined || r.factor !== undefined || r.ratio !== undefined || r.type !== undefined
    ? "category"
    : "relative";
}

function positive(r: UnitRecord, field: string, value: string | number | undefined, fallback: string): Ratio {
  const parsed = parseRatio(value ?? fallback);
  if (!parsed || sign(parsed) <= 0) throw new UnitFactorInvalidError(r.name, field, value);
  return parsed;
}

function withRounding(r: UnitRecord, name: string, category: string, size: Ratio): Unit {
  const rounding = positive(r, "rounding", r.rounding, DEFAULT_ROUNDING);
  const places = decimalPlaces(rounding) ?? 0; // a parsed decimal always has a finite form
  return { name, category, size, rounding, places };
}

function categoryUnit(r: UnitRecord): Unit {
  if (r.category === undefined || r.category === "")
    throw new UnitTableInvalidError(r.name, "an Odoo 16–18 unit needs its category");
  if (r.ratio !== undefined) return ratioUnit(r, r.category);
  const factor = positive(r, "factor", r.factor, "1");
  if (r.type === "reference" && !(factor.num === 1n && factor.den === 1n))
    throw new UnitTableInvalidError(r.name, `a reference unit has factor 1, not ${String(r.factor)}`);
  // factor = this units per reference unit, so one of this unit is 1/factor reference units.
  return withRounding(r, r.name, String(r.category), div(ONE, factor));
}

/** A 16–18 unit given by the ratio its form shows: exact for bigger units too (1/12 is no decimal). */
function ratioUnit(r: UnitRecord, category: string | number): Unit {
  if (r.factor !== undefined)
    throw new UnitTableInvalidError(r.name, "give its factor or its ratio, not both");
  const ratio = positive(r, "ratio", r.ratio, "1");
  const one = ratio.num === 1n && ratio.den === 1n;
  switch (r.type) {
    case "reference":
      if (!one)
        throw new UnitTableInvalidError(r.name, `a reference unit has ratio 1, not ${String(r.ratio)}`);
      return withRounding(r, r.name, String(category), ONE);
    case "bigger":
      return withRounding(r, r.name, String(category), ratio);
    case "smaller":
      return withRounding(r, r.name, String(category), div(ONE, ratio));
    default:
      throw new UnitTableInvalidError(
        r.name,
        "a ratio says bigger or smaller only with the unit's type (reference, bigger or smaller)",
      );
  }
}

function relativeUnit(r: UnitRecord, path: string[], resolve: (name: string, path: string[]) => Unit): Unit {
  const relative = positive(r, "relativeFactor", r.relativeFactor, "1");
  if (r.relativeUnit === undefined || r.relativeUnit === null || r.relativeUnit === "") {
    if (!(relative.num === 1n && relative.den === 1n))
      throw new UnitTableInvalidError(
        r.name,
        `a unit without a reference unit contains 1 of itself, not ${String(r.relativeFactor)} (as Odoo 19's _check_factor says)`,
      );
    return withRounding(r, r.name, r.name, ONE);
  }
  const parent = resolve(r.relativeUnit, path);
  return withRounding(r, r.name, parent.category, mul(relative, parent.size));
}

class Table implements UnitTable {
  constructor(
    readonly kind: UnitTable["kind"],
    private readonly byName: ReadonlyMap<string, Unit>,
  ) {}

  unit(name: string): Unit | undefined {
    return this.byName.get(name);
  }

  units(): readonly Unit[] {
    return [...this.byName.values()];
  }

  convert(quantity: UnitQuantity, to: string, options: ConvertOptions = {}): UnitQuantity {
    const { rounding } = { ...CONVERT_DEFAULTS, ...options };
    const from = this.byName.get(quantity.uom);
    const target = this.byName.get(to);
    if (!from || !target)
      throw new UnitUnknownError(
        quantity.uom,
        to,
        [from ? undefined : quantity.uom, target ? undefined : to].filter(
          (u, i, all): u is string => u !== undefined && all.indexOf(u) === i,
        ),
      );
    const value = parseRatio(quantity.value);
    if (!value) throw new UnitQuantityInvalidError(quantity.value, quantity.uom);
    // Odoo returns a zero quantity untouched before it looks at the units (`if not self or not qty:
    // return qty`): no reject is no reject, whatever unit it is counted in.
    if (value.num === 0n) return { value: formatRatio(value, target.places), uom: target.name };
    if (from.category !== target.category)
      throw new UnitCategoryMismatchError(from.name, target.name, from.category, target.category);
    const same = from === target;
    const method = same && this.kind === "category" ? "HALF-UP" : rounding;
    const exact = same ? value : div(mul(value, from.size), target.size);
    return {
      value: formatRatio(roundToStep(exact, target.rounding, method), target.places),
      uom: target.name,
    };
  }
}
