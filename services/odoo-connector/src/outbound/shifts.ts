/**
 * The shift close schedule (CLOSE_POLICY=shift): at each boundary of CLOSE_SHIFTS, every order the
 * counting points posted to during the shift that ended gets a ProductionRunEnded (SHIFT_END), which
 * the production durable then handles in order with the counts. Which orders ran is read from Odoo
 * itself (the posting records since the previous boundary), so a restarted connector — or another
 * replica — finds the same ones; each event's id derives from the order and the boundary, so JetStream
 * keeps one whoever publishes it.
 */
import { derivedEventId, type EventPublisher, type Logger } from "../../../../streams/src/index.js";
import type { OdooClient } from "../odoo/index.js";
import { OPEN_STATES } from "./production/family.js";
import { POSTING_MODEL } from "./production/postings.js";
import { m2oId, m2oName, odooDatetime } from "./steps.js";

/** Minutes after midnight UTC of `HH:MM,HH:MM,…`, sorted. */
export function parseShifts(spec: string): number[] {
  return spec
    .split(",")
    .map((t) => {
      const [h, m] = t.split(":").map(Number) as [number, number];
      return h * 60 + m;
    })
    .sort((a, b) => a - b);
}

/** The first boundary strictly after `now`, and the one before it (the shift that ends). */
export function boundaries(shifts: readonly number[], now: Date): { previous: Date; next: Date } {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const all: number[] = [];
  for (const offset of [-1, 0, 1]) for (const m of shifts) all.push(day + offset * 86_400_000 + m * 60_000);
  const nextIndex = all.findIndex((t) => t > now.getTime());
  return { previous: new Date(all[nextIndex - 1] as number), next: new Date(all[nextIndex] as number) };
}

export interface ShiftScheduleOptions {
  readonly client: OdooClient;
  readonly publisher: EventPublisher;
  readonly site: string;
  /** CLOSE_SHIFTS. */
  readonly shifts: string;
  readonly logger: Logger;
}

/** Starts the schedule; returns the function that stops it. */
export function startShiftSchedule(o: ShiftScheduleOptions): () => void {
  const shifts = parseShifts(o.shifts);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const { next } = boundaries(shifts, new Date());
    // Timers longer than ~24.8 days overflow; a shift boundary is always within a day.
    timer = setTimeout(() => void fire(next).finally(arm), Math.max(0, next.getTime() - Date.now()));
    timer.unref();
  };
  const fire = async (boundary: Date) => {
    const { previous } = boundaries(shifts, new Date(boundary.getTime() - 1));
    try {
      const ended = await endShift(o, previous, boundary);
      o.logger.info(
        { boundary: boundary.toISOString(), orders: ended },
        "shift ended: runs ended for the close policy",
      );
    } catch (err) {
      o.logger.error(
        { err, boundary: boundary.toISOString() },
        "shift end not published; the orders stay open",
      );
    }
  };
  arm();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Publishes SHIFT_END for every open order the counting points posted to in [from, to). */
export async function endShift(
  o: Pick<ShiftScheduleOptions, "client" | "publisher" | "site">,
  from: Date,
  to: Date,
): Promise<string[]> {
  const rows = await o.client.searchRead(
    POSTING_MODEL,
    [
      ["x_kind", "=", "report"],
      ["x_counting_point", "=", true],
      ["x_reported_at", ">=", odooDatetime(from)],
      ["x_reported_at", "<", odooDatetime(to)],
    ],
    { fields: ["x_production_id", "x_machine"], order: "id desc" },
  );
  const lastOf = new Map<number, { name: string; machine: string }>();
  for (const r of rows) {
    const id = m2oId(r["x_production_id"]);
    if (id !== false && !lastOf.has(id))
      lastOf.set(id, { name: m2oName(r["x_production_id"]) ?? "", machine: String(r["x_machine"] ?? "/") });
  }
  if (lastOf.size === 0) return [];
  const open = await o.client.searchRead("mrp.production", [["id", "in", [...lastOf.keys()]]], {
    fields: ["name", "state"],
  });
  const ended: string[] = [];
  for (const mo of open) {
    if (!OPEN_STATES.has(String(mo["state"]))) continue;
    const run = lastOf.get(mo["id"] as number) as { machine: string };
    const [line, machine] = run.machine.split("/") as [string, string];
    const name = String(mo["name"]);
    await o.publisher.publish(
      "mfg.production.production_run_ended.v1",
      {
        equipment: { site: o.site, area: null, line: line || null, cell: null, machine: machine || null },
        orderRef: name,
        lot: null,
        reason: "SHIFT_END",
        nextOrderRef: null,
        nextLot: null,
        requestedBy: null,
        endedAt: to,
      },
      {
        site: o.site,
        ...(line ? { line } : {}),
        key: name,
        id: derivedEventId("odoo-connector", "shift-end", name, to.getTime()),
        time: to,
      },
    );
    ended.push(name);
  }
  return ended;
}
