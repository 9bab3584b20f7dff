/**
 * The OPC UA side of the bridge alone, run as a child process: the bridge's own endpoint
 * connection (node-opcua client, one session, one subscription with the same monitored items and
 * monitoring parameters as the bridge) whose readings are only counted — no tracker, no Avro, no
 * NATS. What it costs is the part of the bridge's CPU that any OPC UA subscriber pays. Started by
 * ./bridge.ts (`node bridge-opcua.js`, input as one JSON line on stdin).
 */
import { OPCUACertificateManager } from "node-opcua";
import { signalsOf } from "../../services/machine-bridge/src/bridge.js";
import { type BridgeConfigInput, parseBridgeConfig } from "../../services/machine-bridge/src/config.js";
import type { Reading } from "../../services/machine-bridge/src/machine.js";
import {
  EndpointConnection,
  type MonitoredSignal,
} from "../../services/machine-bridge/src/opcua/endpoint.js";
import { silentLogger } from "../../streams/src/index.js";
import {
  childMain,
  isMain,
  type LatencyStats,
  latencyStats,
  sleep,
  WindowMeter,
  type WindowStats,
} from "./bridge-measure.js";

export interface OpcuaInput {
  readonly bridgeConfig: BridgeConfigInput;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Give up when the endpoint is not ONLINE after this long. @default 60000 */
  readonly connectTimeoutMs?: number;
}

export interface OpcuaResult {
  readonly monitoredItems: number;
  /** Telemetry values received in the window, per second. */
  readonly samplesPerSec: number;
  /** State, counter, order/lot and stop reason changes received, per second. */
  readonly signalsPerSec: number;
  /** Source timestamp → reading handed to the bridge (after node-opcua decoded the notification). */
  readonly sourceToReceived: LatencyStats;
  readonly stats: WindowStats;
}

/** The monitored items of a bridge config's first endpoint, exactly as the bridge builds them. */
export function monitoredSignals(config: ReturnType<typeof parseBridgeConfig>): MonitoredSignal[] {
  return (config.endpoints[0]?.machines ?? []).flatMap((m, machine) => signalsOf(machine, m));
}

export async function runOpcuaOnly(input: OpcuaInput): Promise<OpcuaResult> {
  const config = parseBridgeConfig(input.bridgeConfig);
  const endpoint = config.endpoints[0];
  if (!endpoint) throw new Error("the bridge config has no endpoint");
  const certificateManager = new OPCUACertificateManager({
    rootFolder: config.pkiFolder,
    automaticallyAcceptUnknownCertificate: config.trustUnknownServerCertificates,
  });
  await certificateManager.initialize();
  const signals = monitoredSignals(config);
  let measuring = false;
  let samples = 0;
  let others = 0;
  const latencies: number[] = [];
  let online: () => void = () => undefined;
  const isOnline = new Promise<void>((resolve) => {
    online = resolve;
  });
  const connection = new EndpointConnection({
    endpoint,
    signals,
    certificateManager,
    heartbeatMs: config.heartbeatMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    rebuildAfterMs: config.rebuildAfterMs,
    recheckNodesMs: config.recheckNodesMs,
    logger: silentLogger,
    onReadings: (_machine: number, readings: Reading[]) => {
      if (!measuring) return;
      const now = Date.now();
      for (const r of readings) {
        if (r.signal === "telemetry") samples++;
        else others++;
        latencies.push(now - r.sourceTime.getTime());
      }
    },
    onStatus: ({ status }) => {
      if (status === "ONLINE") online();
    },
  });
  try {
    connection.start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      isOnline,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`OPC UA endpoint ${endpoint.url} not ONLINE in time`)),
          input.connectTimeoutMs ?? 60_000,
        );
      }),
    ]);
    clearTimeout(timer);
    process.stderr.write(
      `opcua: ${signals.length} monitored items ONLINE, warm-up ${input.warmupSeconds} s\n`,
    );
    await sleep(input.warmupSeconds * 1000);
    measuring = true;
    const meter = WindowMeter.start();
    await sleep(input.seconds * 1000);
    measuring = false;
    const stats = meter.stop();
    const s = stats.wallMs / 1000;
    return {
      monitoredItems: signals.length,
      samplesPerSec: Math.round(samples / s),
      signalsPerSec: Math.round((others / s) * 10) / 10,
      sourceToReceived: latencyStats(latencies),
      stats,
    };
  } finally {
    await connection.stop();
  }
}

if (isMain(import.meta.url)) childMain("opcua", runOpcuaOnly);
