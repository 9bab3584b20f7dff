/**
 * When no bridge watched a machine during the fault run: from a fault's injection to the moment a
 * bridge connected its endpoint again (its ConnectorStatusChanged to ONLINE or DEGRADED from UNKNOWN
 * or OFFLINE). A stop that began and ended in such a stretch is invisible to any OPC UA client that
 * connects afterwards — it reads the current state only — so the plant's running time is compared
 * as an observer could know it (tools/demo/odoo-vs-plant.ts), and the stretches are reported.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../contracts/src/index.js";
import { readEvents } from "../../streams/src/index.js";
import type { Unwatched } from "../demo/odoo-vs-plant.js";

const STATUS = "mfg.machine.connector_status_changed.v1";

/**
 * Per machine, the unwatched stretches in plant time. `injectedAt`: wall-clock times of the faults;
 * `plantOffsetMs`: wall-clock ms at plant time 0; a reconnection later than `withinMs` after the last
 * fault before it is not that fault's doing.
 */
export async function unwatchedStretches(
  nc: NatsConnection,
  codec: EventCodec,
  options: { injectedAt: readonly number[]; plantOffsetMs: number; withinMs?: number },
): Promise<Map<string, Unwatched[]>> {
  const { injectedAt, plantOffsetMs, withinMs = 120_000 } = options;
  const out = new Map<string, Unwatched[]>();
  const read = { stream: "MFG_MACHINE", filter: "mfg.machine.connector_status_changed.>", codec };
  for await (const e of readEvents(nc, { ...read, types: [STATUS] })) {
    const v = e.value as {
      status: string;
      previousStatus: string;
      changedAt: Date;
      equipment: { machine?: string | null }[];
    };
    const connected = v.status === "ONLINE" || v.status === "DEGRADED";
    if (!connected || (v.previousStatus !== "UNKNOWN" && v.previousStatus !== "OFFLINE")) continue;
    const at = v.changedAt.getTime();
    const fault = Math.max(...injectedAt.filter((t) => t <= at));
    if (!Number.isFinite(fault) || at - fault > withinMs) continue;
    for (const { machine } of v.equipment) {
      if (!machine) continue;
      const list = out.get(machine) ?? [];
      list.push({ from: fault - plantOffsetMs, to: at - plantOffsetMs });
      out.set(machine, list);
    }
  }
  return out;
}
