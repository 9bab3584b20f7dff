/**
 * The machine bridge as a service: `BRIDGE_CONFIG=plant.yaml node dist/services/machine-bridge/src/main.js`
 * (NATS settings, HTTP port and logging as every Threadline service: streams/src/config.ts).
 */

import { hostname } from "node:os";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { z } from "zod";
import { BaseServiceConfig, runService, startOrExit } from "../../../streams/src/index.js";
import { CONNECTOR_STATE_BUCKET, MachineBridge } from "./bridge.js";
import { loadBridgeConfig } from "./config.js";
import { machineBridgeManifest } from "./manifest.js";
import { routeNodeOpcuaLogs } from "./opcua/client.js";

const BridgeServiceConfig = BaseServiceConfig.extend({
  /** The plant mapping file (YAML or JSON): endpoints, machines, signals. */
  BRIDGE_CONFIG: z.string().min(1),
  /**
   * Replicas: each endpoint runs on the replica that owns its lease
   * (`lease.machine-bridge.<connectorId>.<endpoint>` in THREADLINE_CONNECTOR_STATE); another takes it
   * over about this long plus a third of it after the owner stopped renewing it (killed, paused, cut
   * from NATS). A restarted copy waits it out too. @default 15000
   */
  LEASE_TTL_MS: z.coerce.number().int().min(3_000).max(300_000).default(15_000),
});

export async function startMachineBridgeService(env: Record<string, string | undefined> = process.env) {
  return runService({
    name: machineBridgeManifest.service,
    configSchema: BridgeServiceConfig,
    env,
    setup: async ({ config, nc, codec, publisher, logger, metrics }) => {
      const bridgeConfig = loadBridgeConfig(config.BRIDGE_CONFIG);
      // node-opcua's warnings in the service's JSON log, not as console text between its lines.
      routeNodeOpcuaLogs((level, line) => logger[level](line));
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      // The endpoints' leases live there: without it, replicas could not tell who runs which endpoint.
      const statusKv = await new Kvm(nc).open(CONNECTOR_STATE_BUCKET).catch((err: unknown) => {
        throw new Error(
          `the ${CONNECTOR_STATE_BUCKET} bucket cannot be opened (apply the streams: threadline streams apply): ${(err as Error).message}`,
          { cause: err },
        );
      });
      const bridge = await MachineBridge.start({
        config: bridgeConfig,
        publisher,
        jsm,
        codec,
        logger,
        registry: metrics,
        env,
        nc,
        statusKv,
        // Unique per process: a copy restarted after a crash waits out its predecessor's leases.
        replicas: { holder: `${env["HOSTNAME"] || hostname()}:${process.pid}`, ttlMs: config.LEASE_TTL_MS },
      });
      return { onStop: () => bridge.stop({ timeoutMs: config.DRAIN_TIMEOUT_MS }) };
    },
  });
}

/** The process entry point: the running bridge, or one JSON log line saying why it cannot start (exit 1). */
export function main(env: Record<string, string | undefined> = process.env) {
  return startOrExit(machineBridgeManifest.service, () => startMachineBridgeService(env), { env });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
