/**
 * The plants as the console shows them, from the machine stream's events: each plant connector (an
 * OPC UA endpoint the bridge reads) with its status, reason and last heartbeat, and each machine with
 * its PackML state, mode, stop reason and open downtime. The reads are filtered by the server to these
 * event types, so telemetry is never read.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../../contracts/src/index.js";
import { type EventRow, eventRow, mergeScans, scanEvents } from "./scan.js";

type Equipment = {
  site?: string;
  area?: string | null;
  line?: string | null;
  cell?: string | null;
  machine?: string | null;
};

const pathOf = (e: Equipment | undefined) =>
  [e?.site, e?.area, e?.line, e?.cell, e?.machine]
    .filter((t): t is string => typeof t === "string" && t !== "")
    .join("/");

export interface ConnectorView {
  readonly connectorId: string;
  readonly endpoint: string;
  readonly status: string;
  readonly online: boolean;
  readonly reason: string | null;
  readonly lastHeartbeatAt: string | null;
  readonly changedAt: string;
  readonly equipment: string[];
  readonly nodes: unknown[];
}

export interface MachineView {
  readonly path: string;
  readonly site: string;
  readonly line: string | null;
  readonly machine: string;
  readonly state: string;
  readonly mode: string | null;
  readonly stopReason: unknown;
  readonly changedAt: string;
  /** The open downtime: since when and why. */
  readonly downtime: { readonly since: string; readonly reason: unknown; readonly category: unknown } | null;
  /** The connector that reads it is offline: the state shown is the last one known. */
  readonly stale: boolean;
}

export class Plants {
  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: EventCodec,
  ) {}

  async overview() {
    const connectors = new Map<string, EventRow>();
    const states = new Map<string, EventRow>();
    const downtimes = new Map<string, EventRow | null>();
    const scans = [
      await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_MACHINE", filter: "mfg.machine.connector_status_changed.>" },
        (e) => {
          const row = eventRow(e);
          connectors.set(`${row.value["connectorId"]}|${row.value["endpoint"]}`, row);
        },
      ),
      await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_MACHINE", filter: "mfg.machine.machine_state_changed.>" },
        (e) => {
          const row = eventRow(e);
          states.set(pathOf(row.value["equipment"] as Equipment), row);
        },
      ),
      await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_MACHINE", filter: "mfg.machine.downtime_started.>" },
        (e) => {
          const row = eventRow(e);
          downtimes.set(String(row.value["downtimeId"]), row);
        },
      ),
      await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_MACHINE", filter: "mfg.machine.downtime_ended.>" },
        (e) => {
          downtimes.set(String(eventRow(e).value["downtimeId"]), null);
        },
      ),
    ];
    const offline = new Set<string>();
    const connectorViews: ConnectorView[] = [...connectors.values()].map((row) => {
      const v = row.value;
      const equipment = ((v["equipment"] as Equipment[] | undefined) ?? []).map(pathOf);
      const online = v["status"] === "ONLINE";
      if (!online) for (const p of equipment) offline.add(p);
      return {
        connectorId: String(v["connectorId"]),
        endpoint: String(v["endpoint"]),
        status: String(v["status"]),
        online,
        reason: (v["reason"] as string | null) ?? null,
        lastHeartbeatAt: (v["lastHeartbeatAt"] as string | null) ?? null,
        changedAt: String(v["changedAt"]),
        equipment,
        nodes: (v["nodes"] as unknown[] | undefined) ?? [],
      };
    });
    const openDowntime = new Map<string, EventRow>();
    for (const row of downtimes.values())
      if (row) openDowntime.set(pathOf(row.value["equipment"] as Equipment), row);
    const machines: MachineView[] = [...states.entries()].map(([path, row]) => {
      const v = row.value;
      const eq = v["equipment"] as Equipment;
      const down = openDowntime.get(path);
      return {
        path,
        site: eq.site ?? "",
        line: eq.line ?? null,
        machine: eq.machine ?? path,
        state: String(v["state"]),
        mode: (v["mode"] as string | null) ?? null,
        stopReason: v["stopReason"] ?? null,
        changedAt: String(v["changedAt"]),
        downtime: down
          ? {
              since: String(down.value["startedAt"]),
              reason: down.value["reason"],
              category: down.value["category"],
            }
          : null,
        stale: [...offline].some((p) => path === p || path.startsWith(`${p}/`)),
      };
    });
    machines.sort((a, b) => (a.path < b.path ? -1 : 1));
    connectorViews.sort((a, b) => (a.connectorId + a.endpoint < b.connectorId + b.endpoint ? -1 : 1));
    return { connectors: connectorViews, machines, scan: mergeScans(scans) };
  }
}
