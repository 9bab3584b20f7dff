/**
 * Where the shop floor meets Odoo's work centres, from one setting (WORKCENTER_BY_LINE): keys are
 * line tokens (`l1`) or machines (`l1/filler`), values Odoo work centre codes. A machine's own
 * work centre takes its time logs and downtime (Odoo has no overlap check, so machines sharing one
 * work centre would pile their time onto it); an order's line is read back from the work centres of
 * its work orders, which routes counts of an order split over two lines to the right half.
 */
export class EquipmentMap {
  readonly #workcenterByKey: ReadonlyMap<string, string>;
  readonly #lineByWorkcenter: ReadonlyMap<string, string>;

  constructor(
    workcenterByLine: Readonly<Record<string, string>>,
    /** Work centre code → line token, when it is not the inverse of the above. */
    lineByWorkcenter?: Readonly<Record<string, string>>,
  ) {
    this.#workcenterByKey = new Map(Object.entries(workcenterByLine));
    const inverse = new Map<string, string>();
    for (const [key, code] of Object.entries(workcenterByLine))
      inverse.set(code, key.split("/")[0] as string);
    for (const [code, line] of Object.entries(lineByWorkcenter ?? {})) inverse.set(code, line);
    this.#lineByWorkcenter = inverse;
  }

  /** The work centre code of a machine: its own key, else its line's, else the line token itself. */
  workcenterOf(line: string, machine: string | null): string {
    return (
      (machine !== null ? this.#workcenterByKey.get(`${line}/${machine}`) : undefined) ??
      this.#workcenterByKey.get(line) ??
      line
    );
  }

  /** Whether some machine (a `line/machine` key) has this work centre as its own. */
  hasMachineAt(workcenterCode: string): boolean {
    for (const [key, code] of this.#workcenterByKey)
      if (code === workcenterCode && key.includes("/")) return true;
    return false;
  }

  /** The line a work centre belongs to; undefined when the map does not say. */
  lineOf(workcenterCode: string): string | undefined {
    return this.#lineByWorkcenter.get(workcenterCode);
  }

  /** Work centre code → line, for the inbound sync's equipment paths. */
  lineByWorkcenter(): Record<string, string> {
    return Object.fromEntries(this.#lineByWorkcenter);
  }
}
