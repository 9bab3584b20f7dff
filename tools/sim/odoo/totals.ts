/**
 * Column totals kept row by row, like the column indexes (orm.ts `Database.index`): per value of a
 * grouping column (a many2one), how many rows, how many have a boolean column set, and the sum of a
 * number column — what a stock move's `quantity` and `picked` are computed from after every move
 * line written (stock-quant.ts `syncMoveFromLines`), so that this costs the same for a move of one
 * line as for a component move of thousands.
 *
 * The sum must be what a loop over the group's rows in ascending id order gives, to the bit, then
 * rounded: `Math.round(Σ · scale) / scale`. A sum kept up to date change by change adds in another
 * order, which can differ in the last bits, so `roundedSum` answers, in this order:
 *
 * 1. the ordered sum itself while it is known: rows appended in id order (`ordered + value`, the very
 *    addition the loop makes last), the last row changed or removed (back to the sum before it);
 * 2. otherwise, from the sum kept in any order (exact error tracked with TwoSum) and the worst-case
 *    error of the ordered loop (Higham: n·u·Σ|x| for n additions), when that whole interval rounds to
 *    the same value — then the loop's rounded sum is that value, whatever its last bits;
 * 3. otherwise (a sum within that error of a rounding boundary, a negative or non-finite value) the
 *    loop itself over the group's rows, which makes 1 valid again.
 */
import type { Row } from "./orm.js";

/** What one row adds to its group. */
interface Entry {
  readonly group: unknown;
  readonly value: number;
  readonly flag: boolean;
}

interface Group {
  readonly ids: Set<number>;
  flagged: number;
  /** Rows whose value is negative, NaN or infinite (left out of `sum`; the bound of 2 needs Σ|x| = Σx). */
  irregular: number;
  /** Σ of the regular values in the order they came, and a bound of its distance to the exact sum. */
  sum: number;
  error: number;
  /** The sum in ascending id order from 0 (undefined: unknown), and the same without the last row. */
  ordered: number | undefined;
  beforeLast: number | undefined;
  /** ≥ every id in the group (the largest id added since the group was created or recomputed). */
  maxId: number;
}

const U = 2 ** -53;

function regular(v: number): boolean {
  return v >= 0 && v !== Number.POSITIVE_INFINITY;
}

export class ColumnTotals {
  private readonly groups = new Map<unknown, Group>();
  private readonly entries = new Map<number, Entry>();

  constructor(
    readonly groupField: string,
    readonly sumField: string,
    readonly flagField: string,
  ) {}

  /** After row `id` was created, changed or deleted (`row` undefined). */
  rowChanged(id: number, row: Row | undefined): void {
    const old = this.entries.get(id);
    let next: Entry | undefined;
    if (row) {
      const v = row[this.sumField];
      next = {
        group: row[this.groupField] ?? false,
        value: typeof v === "number" ? v : 0,
        flag: row[this.flagField] === true,
      };
      if (old && old.group === next.group && Object.is(old.value, next.value) && old.flag === next.flag)
        return;
    }
    if (old) this.remove(id, old);
    if (next) this.add(id, next);
  }

  /** How many rows the group holds. */
  count(group: unknown): number {
    return this.groups.get(group)?.ids.size ?? 0;
  }

  /** How many of the group's rows have the flag column `true`. */
  flagged(group: unknown): number {
    return this.groups.get(group)?.flagged ?? 0;
  }

  /**
   * `Math.round(s * scale) / scale`, `s` being the group's values summed from 0 in ascending id order
   * (a value that is not a number counts 0) — exactly what that loop and rounding give.
   */
  roundedSum(group: unknown, scale: number): number {
    const g = this.groups.get(group);
    if (!g) return Math.round(0 * scale) / scale;
    if (g.ordered !== undefined) return Math.round(g.ordered * scale) / scale;
    if (g.irregular === 0) {
      // |loop − exact| ≤ γ(n−1)·Σx and Σx ≤ |sum| + error; the loop's product by `scale` and ours round
      // once more each. The interval below is at least twice as wide as all of that together.
      const x = g.sum * scale;
      const bound = Math.abs(g.sum) + g.error;
      const d = 4 * scale * (g.error + (g.ids.size + 2) * U * bound) + Math.abs(x) * 2 ** -50 + 2 ** -1000;
      if (Number.isFinite(x) && Number.isFinite(d)) {
        const lo = Math.round(x - d);
        const hi = Math.round(x + d);
        if (Object.is(lo, hi)) return hi / scale;
      }
    }
    return Math.round(this.recompute(g) * scale) / scale;
  }

  private add(id: number, e: Entry): void {
    let g = this.groups.get(e.group);
    if (!g) {
      g = {
        ids: new Set(),
        flagged: 0,
        irregular: 0,
        sum: 0,
        error: 0,
        ordered: 0,
        beforeLast: undefined,
        maxId: 0,
      };
      this.groups.set(e.group, g);
    }
    if (g.ordered !== undefined && id >= g.maxId) {
      g.beforeLast = g.ordered;
      g.ordered = g.ordered + e.value;
    } else {
      g.ordered = undefined;
      g.beforeLast = undefined;
    }
    if (id > g.maxId) g.maxId = id;
    g.ids.add(id);
    if (e.flag) g.flagged++;
    if (regular(e.value)) this.accumulate(g, e.value);
    else g.irregular++;
    this.entries.set(id, e);
  }

  private remove(id: number, e: Entry): void {
    const g = this.groups.get(e.group) as Group;
    this.entries.delete(id);
    g.ids.delete(id);
    if (g.ids.size === 0) {
      this.groups.delete(e.group);
      return;
    }
    if (id === g.maxId && g.beforeLast !== undefined) g.ordered = g.beforeLast;
    else g.ordered = undefined;
    g.beforeLast = undefined;
    if (e.flag) g.flagged--;
    if (regular(e.value)) this.accumulate(g, -e.value);
    else g.irregular--;
  }

  /** `sum += v` with its rounding error (TwoSum, exact) added to `error`. */
  private accumulate(g: Group, v: number): void {
    const s = g.sum + v;
    const bv = s - g.sum;
    const err = g.sum - (s - bv) + (v - bv);
    g.sum = s;
    g.error += Math.abs(err);
  }

  /** The loop over the group's rows in id order: the ordered sum, known again. */
  private recompute(g: Group): number {
    const ids = [...g.ids].sort((a, b) => a - b);
    let s = 0;
    let before = 0;
    for (const id of ids) {
      before = s;
      s += (this.entries.get(id) as Entry).value;
    }
    g.ordered = s;
    g.beforeLast = before;
    g.maxId = ids[ids.length - 1] as number;
    // The ordered sum is within (n+2)·u·s of the exact one: a fresh start for a sum that drifted more.
    const error = (ids.length + 2) * U * Math.abs(s);
    if (g.irregular === 0 && Number.isFinite(s) && !(g.error <= error)) {
      g.sum = s;
      g.error = error;
    }
    return s;
  }
}
