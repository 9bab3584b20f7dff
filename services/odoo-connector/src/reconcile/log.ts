/**
 * The event log's side of reconciliation, for a window: every production report (all machines —
 * which of them were counting points is in the events), the ProductionPosted the connector
 * published, the reports it dead-lettered, and how far its durable has acknowledged. Read with the
 * SDK's stream reader from the window's start (stored time), reads only.
 */

import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec, ProductionReported } from "../../../../contracts/src/index.js";
import {
  CE,
  DLQ_STREAM,
  dlqSubject,
  type Micros,
  microsOf,
  partitionDurables,
  readDeadLetter,
  readEvents,
  readStream,
} from "../../../../streams/src/index.js";
import { CONNECTOR_DURABLES, CONNECTOR_PARTITIONS } from "../manifest.js";

const REPORTED = "mfg.production.production_reported.v1";
const POSTED = "mfg.production.production_posted.v1";
const RUN_ENDED = "mfg.production.production_run_ended.v1";
/** The durable whose dead letters are production reports Odoo refused. */
export const PRODUCTION_DURABLE = CONNECTOR_DURABLES.production;

export interface LoggedReport {
  readonly id: string;
  readonly seq: number;
  readonly orderRef: string;
  /** `line/machine`. */
  readonly machine: string;
  readonly line: string | null;
  readonly countingPoint: boolean;
  /** In `uom`: the machine's unit as reported; the order's once reconcile() converted it. */
  readonly good: Micros;
  readonly reject: Micros;
  readonly goodUom: string;
  readonly rejectUom: string;
  readonly rejectedComponent: string | null;
  readonly runningMinutes: number;
  readonly reportedAt: Date;
}

export interface LoggedRunEnd {
  readonly id: string;
  readonly orderRef: string;
  readonly reason: string;
  readonly endedAt: Date;
}

export interface EventLog {
  readonly reports: readonly LoggedReport[];
  /** The run ends of the window (the closes the connector was asked for). */
  readonly runEnds: readonly LoggedRunEnd[];
  /** Source event id → when the connector said Odoo accepted it (ProductionPosted). */
  readonly posted: ReadonlyMap<string, Date>;
  /** Event id → dead-letter code. */
  readonly deadLettered: ReadonlyMap<string, string>;
  /** The production durable's acknowledgement floor (stream sequence); 0 when unknown. */
  readonly ackFloor: number;
}

export interface LogOptions {
  readonly nc: NatsConnection;
  readonly codec: EventCodec;
  readonly since: Date;
  readonly until: Date;
  /** @default MFG_PRODUCTION */
  readonly stream?: string;
  /** What becomes of the readers' consumers (streams/src/read.ts). @default "delete" */
  readonly cleanup?: "delete" | "expire";
}

function runningMinutes(r: ProductionReported): number {
  return r.running.reduce((s, p) => s + Math.max(0, p.endedAt.getTime() - p.startedAt.getTime()), 0) / 60_000;
}

export async function readEventLog(o: LogOptions): Promise<EventLog> {
  const stream = o.stream ?? "MFG_PRODUCTION";
  const reports: LoggedReport[] = [];
  const runEnds: LoggedRunEnd[] = [];
  const posted = new Map<string, Date>();
  // Stored-time start: a report stored before the window cannot have been reported in it. No
  // stored-time end: a report of the window can be stored after it (buffered at the plant).
  const events = readEvents(o.nc, {
    stream,
    filter: "mfg.production.>",
    since: o.since,
    codec: o.codec,
    types: [REPORTED, RUN_ENDED, POSTED],
    ...(o.cleanup ? { cleanup: o.cleanup } : {}),
  });
  for await (const e of events) {
    if (e.type === REPORTED) {
      const r = e.value;
      if (!r.orderRef || r.reportedAt < o.since || r.reportedAt > o.until) continue;
      reports.push({
        id: e.id,
        seq: e.streamSequence,
        orderRef: r.orderRef,
        machine: `${r.equipment.line ?? ""}/${r.equipment.machine ?? ""}`,
        line: r.equipment.line,
        countingPoint: r.countingPoint,
        good: microsOf(r.goodQuantity.value),
        reject: microsOf(r.rejectQuantity.value),
        goodUom: r.goodQuantity.uom,
        rejectUom: r.rejectQuantity.uom,
        rejectedComponent: r.rejectedComponent,
        runningMinutes: runningMinutes(r),
        reportedAt: r.reportedAt,
      });
    } else if (e.type === RUN_ENDED) {
      const end = e.value;
      if (end.endedAt < o.since || end.endedAt > o.until) continue;
      runEnds.push({ id: e.id, orderRef: end.orderRef, reason: end.reason, endedAt: end.endedAt });
    } else {
      posted.set(e.value.sourceEventId, e.value.postedAt);
    }
  }
  return {
    reports,
    runEnds,
    posted,
    deadLettered: await deadLetters(o, stream),
    ackFloor: await ackFloor(o, stream),
  };
}

/**
 * Event id → dead-letter code of the production reports the connector gave up on. Only the connector's
 * consumer writes this subject; anything else there fails the read (NotADeadLetterError) rather than
 * being counted with a made-up code.
 */
async function deadLetters(o: LogOptions, stream: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const read = {
    stream: DLQ_STREAM,
    filter: dlqSubject(stream, PRODUCTION_DURABLE),
    since: o.since,
    headersOnly: true,
    cleanup: o.cleanup,
    ifMissing: "empty", // no dead-letter stream: nothing dead-lettered
  } as const;
  await readStream(o.nc, read, (m) => {
    const letter = readDeadLetter(m);
    const id = letter.headers.get(CE.id);
    if (id) out.set(id, letter.code);
  });
  return out;
}

/**
 * How far the connector's production durable acknowledged (0 when it cannot be read): partitioned,
 * as far as its slowest partition.
 */
async function ackFloor(o: LogOptions, stream: string): Promise<number> {
  try {
    // No account-info call first: a least-privilege user has only the durables' INFO.
    const jsm = await jetstreamManager(o.nc, { checkAPI: false });
    const floor = async (durables: readonly string[]) =>
      Math.min(
        ...(await Promise.all(
          durables.map(async (d) => (await jsm.consumers.info(stream, d)).ack_floor.stream_seq),
        )),
      );
    // Before `streams apply` partitioned it, the durable is one.
    return await floor(partitionDurables(PRODUCTION_DURABLE, CONNECTOR_PARTITIONS)).catch(() =>
      floor([PRODUCTION_DURABLE]),
    );
  } catch {
    return 0;
  }
}
