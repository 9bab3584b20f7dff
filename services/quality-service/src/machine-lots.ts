/**
 * Which lot each line (and machine) was making when: from OrderDispatched (the order and lot written
 * to a line's machines, with the product) and ProductionReported (a machine's counts of a lot over a
 * period). An SPC episode on a machine holds the lots that machine made during it; telemetry carries
 * no lot, so this timeline is how a violation finds "the lot being made".
 */
import type { OrderDispatched, ProductionReported } from "../../../contracts/src/index.js";
import type { LotKey } from "./genealogy.js";
import type { MachineLot, QualityState } from "./state.js";

/** Lots kept per line: a line makes a few lots a shift; this covers days. */
const KEPT = 64;

export interface LineLot extends MachineLot {
  /** Machines that reported counts of it (empty: only dispatched). */
  readonly machines: readonly string[];
}

const lineOf = (site: string, line: string) => `${site}/${line}`;

/** Records a dispatch; returns the lot when it is new on the line (an episode running there holds it too). */
export async function recordDispatch(state: QualityState, e: OrderDispatched): Promise<LineLot | undefined> {
  const { site, line } = e.equipment;
  if (!line || !e.lot) return undefined;
  const at = e.dispatchedAt.getTime();
  return update(state, lineOf(site, line), e.lot, (known) => ({
    lot: e.lot as string,
    product: e.product.code,
    orderRef: e.orderRef,
    from: Math.min(known?.from ?? at, at),
    to: Math.max(known?.to ?? at, at),
    machines: known?.machines ?? [],
  }));
}

/** Records a machine's report of a lot; returns the lot when it is new on the line. */
export async function recordReport(state: QualityState, e: ProductionReported): Promise<LineLot | undefined> {
  const { site, line, machine } = e.equipment;
  if (!line || !e.lot) return undefined;
  const from = e.periodStartAt.getTime();
  const to = e.reportedAt.getTime();
  return update(state, lineOf(site, line), e.lot, (known) => ({
    lot: e.lot as string,
    // A lot counted before its dispatch was seen: its product comes with the dispatch.
    product: known?.product ?? "",
    orderRef: known?.orderRef ?? e.orderRef,
    from: Math.min(known?.from ?? from, from),
    to: Math.max(known?.to ?? to, to),
    machines:
      machine && !known?.machines.includes(machine)
        ? [...(known?.machines ?? []), machine]
        : (known?.machines ?? []),
  }));
}

async function update(
  state: QualityState,
  path: string,
  lot: string,
  next: (known: LineLot | undefined) => LineLot,
): Promise<LineLot | undefined> {
  const record = state.machine(path);
  const lots = (record?.lots ?? []) as LineLot[];
  const known = lots.find((l) => l.lot === lot);
  const updated = next(known);
  if (known && JSON.stringify(known) === JSON.stringify(updated)) return undefined;
  const rest = lots.filter((l) => l.lot !== lot);
  await state.putMachine({
    machine: path,
    lots: [...rest, updated].sort((a, b) => a.from - b.from).slice(-KEPT),
  });
  return known ? undefined : updated;
}

/**
 * The lots made on `machine` of `line` between `from` and `to`: the lots it reported in that window, else
 * (no report yet: reports come after the telemetry) the lots of the line in it, and the line's latest
 * lot when it was dispatched before the window — the lot being made now.
 */
export function lotsMadeDuring(
  state: QualityState,
  site: string,
  line: string,
  machine: string | null,
  from: number,
  to: number,
): LotKey[] {
  const lots = (state.machine(lineOf(site, line))?.lots ?? []) as LineLot[];
  const known = lots.filter((l) => l.product !== "");
  const overlapping = (l: LineLot, latest: boolean) => l.from <= to && (latest || l.to >= from);
  const last = known.at(-1);
  const onLine = known.filter((l) => overlapping(l, l === last));
  const onMachine = machine ? onLine.filter((l) => l.machines.includes(machine)) : [];
  // The line's latest lot is the one being made now, whatever the machine reported so far.
  const chosen =
    onMachine.length === 0
      ? onLine
      : last && onLine.includes(last) && !onMachine.includes(last)
        ? [...onMachine, last]
        : onMachine;
  return chosen.map((l) => ({ product: l.product, lot: l.lot }));
}
