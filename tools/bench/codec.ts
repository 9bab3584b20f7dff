/**
 * Codec speed: encode (validate + single-object header + Avro body) and decode (header + resolve +
 * verify) of a typical event, against avsc's bare toBuffer/fromBuffer on the same schema as the baseline.
 */
import { Catalog, EventCodec, type EventPayloads } from "../../contracts/src/index.js";

export interface CodecBenchResult {
  readonly eventType: string;
  readonly bytes: number;
  readonly encodePerSec: number;
  readonly decodePerSec: number;
  readonly rawEncodePerSec: number;
  readonly rawDecodePerSec: number;
}

const EVENT = "mfg.production.production_reported.v1";

export function typicalProductionReport(i: number): EventPayloads[typeof EVENT] {
  return {
    equipment: { site: "plant1", area: "packaging", line: "line1", cell: null, machine: `filler${i % 50}` },
    orderRef: "WH/MO/00042",
    lot: "LOT-2026-1130-A",
    goodQuantity: { value: String(100 + (i % 7)), uom: "Units" },
    rejectQuantity: { value: "2", uom: "Units" },
    goodCounterFrom: BigInt(i * 100),
    goodCounterTo: BigInt(i * 100 + 100),
    rejectCounterFrom: BigInt(i * 2),
    rejectCounterTo: BigInt(i * 2 + 2),
    periodStartAt: new Date(1_796_000_000_000 + i * 1000),
    reportedAt: new Date(1_796_000_001_000 + i * 1000),
    countingPoint: true,
    rejectedComponent: null,
    running: [],
  };
}

function rate(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  return Math.round(n / (ns / 1e9));
}

export function runCodecBench(n = 200_000): CodecBenchResult {
  const codec = new EventCodec({ catalog: Catalog.load() });
  const type = codec.contract(EVENT).type;
  const payloads = Array.from({ length: 1024 }, (_, i) => typicalProductionReport(i));
  const encoded = payloads.map((p) => codec.encode(EVENT, p));
  const bodies = payloads.map((p) => type.toBuffer(p));
  return {
    eventType: EVENT,
    bytes: encoded[0]?.length ?? 0,
    encodePerSec: rate(n, (i) => codec.encode(EVENT, payloads[i & 1023])),
    decodePerSec: rate(n, (i) => codec.decodeKnown(encoded[i & 1023] as Buffer)),
    rawEncodePerSec: rate(n, (i) => type.toBuffer(payloads[i & 1023])),
    rawDecodePerSec: rate(n, (i) => type.fromBuffer(bodies[i & 1023] as Buffer)),
  };
}

export function formatCodecBench(r: CodecBenchResult): string {
  const k = (x: number) => `${Math.round(x / 1000).toLocaleString("en")}k/s`;
  return [
    `codec (${r.eventType}, ${r.bytes} bytes on the wire)`,
    `  encode  ${k(r.encodePerSec)}  (avsc toBuffer alone ${k(r.rawEncodePerSec)}, ratio ${(r.encodePerSec / r.rawEncodePerSec).toFixed(2)})`,
    `  decode  ${k(r.decodePerSec)}  (avsc fromBuffer alone ${k(r.rawDecodePerSec)}, ratio ${(r.decodePerSec / r.rawDecodePerSec).toFixed(2)})`,
  ].join("\n");
}
