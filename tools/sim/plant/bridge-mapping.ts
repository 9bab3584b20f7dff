/**
 * The machine-bridge mapping of a simulated plant: every machine's signals at the node ids the
 * simulator serves. The demo, the tests and the bench use it; for a real plant the mapping is
 * written by hand (see services/machine-bridge/README.md).
 */
import type { BridgeConfigInput } from "../../../services/machine-bridge/src/config.js";
import { machineNodeIds } from "./addressing.js";
import type { PlantConfig } from "./config.js";

export interface BridgeMappingOptions {
  connectorId?: string;
  endpointId?: string;
  /** Telemetry sampling interval on the server. @default 1000 */
  samplingIntervalMs?: number;
  /** Anything else of the bridge config (heartbeat, report interval, PKI folder ...). */
  overrides?: Partial<BridgeConfigInput>;
  /** Endpoint settings (security, user, reconnect ...). */
  endpoint?: Record<string, unknown>;
}

export function bridgeMappingFor(
  plant: PlantConfig,
  endpointUrl: string,
  options: BridgeMappingOptions = {},
): BridgeConfigInput {
  const site = plant.sites[0]?.id ?? "site1";
  const machines = plant.sites.flatMap((s) =>
    s.lines.flatMap((l) =>
      l.machines.map((m) => {
        const ids = machineNodeIds(
          s.id,
          l.id,
          m.id,
          m.telemetry.map((t) => t.name),
        );
        return {
          site: s.id,
          line: l.id,
          machine: m.id,
          profile: m.stateNumbering,
          signals: {
            state: ids.state,
            goodCounter: ids.goodCount,
            rejectCounter: ids.rejectCount,
            order: ids.order,
            lot: ids.lot,
            stopReason: ids.stopReason,
            stopReasonText: ids.stopReasonText,
          },
          counters: { max: String(m.counters.max) },
          // The orchestrator dispatches orders to the line: SetOrder(order, lot), read back from Order/Lot.
          commands: { setOrder: { method: { object: ids.machine, method: ids.methods.SetOrder } } },
          telemetry: m.telemetry.map((t) => ({
            tag: t.name,
            nodeId: ids.telemetry[t.name] as string,
            samplingIntervalMs: options.samplingIntervalMs ?? 1000,
          })),
        };
      }),
    ),
  );
  return {
    connectorId: options.connectorId ?? "machine-bridge-sim",
    site,
    ...options.overrides,
    endpoints: [
      {
        id: options.endpointId ?? "plant-sim",
        url: endpointUrl,
        ...options.endpoint,
        machines,
      },
    ],
  } as BridgeConfigInput;
}
