/**
 * Reconciliation: Odoo against the event log for a window, with the checks that would catch a wrong
 * posting model, not only a lost posting.
 *
 * Odoo is the judge of what was applied: a report counts as posted only when Odoo holds its posting
 * record. Per order family (the order, its backorders and splits):
 * - **lost** — the connector published ProductionPosted for it, or acknowledged it, and Odoo has no
 *   record of it: Odoo lost it (restored from a backup?). Named with the events to replay.
 * - **incomplete** — ProductionPosted was published but Odoo's record is still pending: Odoo holds
 *   the posting's first write and not the steps after it (a backup taken between them). Replay.
 * - **dead_lettered** — the connector gave up on it (its code): it will never be posted by itself.
 * - **quantity_mismatch** — the record holds other quantities than the event.
 * - **output** — an order's produced quantity differs from the counting point's postings on it
 *   (upstream machines counted as finished goods, a quantity edited in Odoo).
 * - **components** — components consumed differ from what the BoM expects for the quantity produced
 *   (a posting that never consumed components; more than Odoo's own rounding).
 * - **scrap** — scrapped finished product differs from the counting point's rejects on a closed order,
 *   or a component's scrap from the rejects the machines handling it reported.
 * - **time** — a work order's time differs from the machines' running time posted on it (Odoo's
 *   expected duration filled in for a work order that got none).
 * - **closed_without_run_end** — an order done in Odoo without a run end posted by Threadline
 *   (closed by hand, or one backorder per report).
 * Reports still waiting in the stream are listed, not drift.
 */
import { rename, rm, writeFile } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { EventCodec } from "../../../../contracts/src/index.js";
import {
  absMicros,
  formatMicros,
  isRetryable,
  type Logger,
  type Micros,
  microsOf,
  microsOfFloat,
  microsToNumber,
  silentLogger,
  sumMicros,
} from "../../../../streams/src/index.js";
import { EquipmentMap } from "../equipment.js";
import { odooFields } from "../fields.js";
import { reconcileMetrics } from "../metrics.js";
import type { OdooClient } from "../odoo/client.js";
import { inUnit } from "../outbound/production/quantities.js";
import { familyKey } from "../outbound/production/report.js";
import { OdooSetup, type PostingContext } from "../outbound/steps.js";
import type { ReferenceData } from "../reference/index.js";
import { type EventLog, type LoggedReport, readEventLog } from "./log.js";
import { type FamilyFacts, type MemberFacts, type OdooFacts, readOdoo } from "./odoo.js";

export interface ReconcileOptions {
  readonly nc: NatsConnection;
  readonly codec: EventCodec;
  readonly client: OdooClient;
  readonly since: Date;
  /** @default now */
  readonly until?: Date;
  /** The production stream. @default MFG_PRODUCTION */
  readonly stream?: string;
  /** Machines and lines → work centres (as the connector's WORKCENTER_BY_LINE). @default {} */
  readonly workcenterByLine?: Readonly<Record<string, string>>;
  readonly lineByWorkcenter?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  /** Units and products (the running connector's master data). @default read from Odoo */
  readonly reference?: ReferenceData;
  /**
   * The log readers' consumers: deleted after each read, or left to expire (the service: its
   * least-privilege user may not delete consumers; `reads` in services/odoo-connector/access.yaml).
   * @default "delete"
   */
  readonly cleanup?: "delete" | "expire";
}

export type FindingKind =
  | "lost"
  | "incomplete"
  | "dead_lettered"
  | "quantity_mismatch"
  | "output"
  | "components"
  | "scrap"
  | "time"
  | "closed_without_run_end";

export const FINDING_KINDS: readonly FindingKind[] = [
  "lost",
  "incomplete",
  "dead_lettered",
  "quantity_mismatch",
  "output",
  "components",
  "scrap",
  "time",
  "closed_without_run_end",
];

export interface Finding {
  readonly kind: FindingKind;
  /** The order (family member) it concerns, or the family's reference. */
  readonly order: string;
  readonly message: string;
  /** Events to replay (lost) or to look at. */
  readonly events?: readonly string[];
}

export interface OrderReconciliation {
  /** The family, by the reference the machines reported. */
  readonly orderRef: string;
  /** Counting-point good and reject quantities of the window's reports (exact decimals). */
  readonly counted: { readonly good: string; readonly reject: string };
  /** Reports of the window Odoo holds. */
  readonly posted: number;
  /** Reports of the window not posted yet (still in the stream). */
  readonly waiting: readonly string[];
  readonly findings: readonly Finding[];
  /** Odoo's produced quantity minus the counting point's postings, over the family's orders. */
  readonly outputDrift: string;
}

export interface ReconcileReport {
  readonly since: Date;
  readonly until: Date;
  /** Production reports in the window. */
  readonly events: number;
  readonly orders: readonly OrderReconciliation[];
  /** Orders with at least one finding. */
  readonly drifting: readonly OrderReconciliation[];
}

/** Whether a report has anything for Odoo (the posting skips it otherwise). */
function postable(r: LoggedReport): boolean {
  return (
    (r.countingPoint && r.good + r.reject > 0n) ||
    r.runningMinutes > 0 ||
    (!r.countingPoint && r.rejectedComponent !== null && r.reject > 0n)
  );
}

/** Compares the event log with Odoo for the window. Reads only. */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const until = options.until ?? new Date();
  const log = await readEventLog({ ...options, until });
  const ctx: PostingContext = {
    odoo: options.client,
    fields: odooFields(options.client.version.major),
    setup: new OdooSetup(options.client),
    equipment: new EquipmentMap(options.workcenterByLine ?? {}, options.lineByWorkcenter),
    logger: options.logger ?? silentLogger,
    ...(options.reference ? { reference: options.reference } : {}),
  };
  const reports = log.reports.filter(postable);
  const byFamily = new Map<string, LoggedReport[]>();
  for (const r of reports)
    byFamily.set(familyKey(r.orderRef), [...(byFamily.get(familyKey(r.orderRef)) ?? []), r]);
  // A close the connector gave up on leaves the order open: drift of its family too.
  for (const e of log.runEnds)
    if (log.deadLettered.has(e.id) && !byFamily.has(familyKey(e.orderRef)))
      byFamily.set(familyKey(e.orderRef), []);
  const facts = await readOdoo(
    ctx,
    [...byFamily.keys()],
    reports.map((r) => r.id),
  );
  const converted = new Map<string, LoggedReport[]>();
  for (const [ref, rs] of byFamily)
    converted.set(ref, await inOrderUnit(ctx, rs, facts.families.get(ref)?.members[0]?.uom ?? false));
  const orders = [...converted.entries()]
    .map(([ref, rs]) => reconcileFamily(ref, rs, log, facts, facts.families.get(ref)))
    .sort((a, b) => a.orderRef.localeCompare(b.orderRef));
  return {
    since: options.since,
    until,
    events: log.reports.length,
    orders,
    drifting: orders.filter((o) => o.findings.length > 0),
  };
}

/**
 * The counting point's reports in the order's unit, converted as the posting converted them
 * (outbound/production/quantities.ts), so a report counted in Units compares with an order in
 * Dozens without drift. A quantity whose unit does not convert (kg for Units) never reached Odoo — its
 * report was dead-lettered, and is reported as such — so it counts as nothing in the order's unit. The
 * family's members share the order's unit (a backorder copies it).
 */
async function inOrderUnit(
  ctx: PostingContext,
  reports: readonly LoggedReport[],
  uom: number | false,
): Promise<LoggedReport[]> {
  if (uom === false) return [...reports];
  const convert = async (value: Micros, unit: string): Promise<[Micros, string]> => {
    try {
      const q = await inUnit(ctx, { value: formatMicros(value), uom: unit }, uom);
      return [microsOf(q.value), q.uom];
    } catch (err) {
      if (isRetryable(err)) throw err;
      return [0n, unit];
    }
  };
  const out: LoggedReport[] = [];
  for (const r of reports) {
    if (!r.countingPoint) {
      out.push(r);
      continue;
    }
    const [good, goodUom] = await convert(r.good, r.goodUom);
    const [reject, rejectUom] = await convert(r.reject, r.rejectUom);
    out.push({ ...r, good, reject, goodUom, rejectUom });
  }
  return out;
}

function reconcileFamily(
  ref: string,
  reports: readonly LoggedReport[],
  log: EventLog,
  facts: OdooFacts,
  family: FamilyFacts | undefined,
): OrderReconciliation {
  const findings: Finding[] = [];
  const waiting: string[] = [];
  let posted = 0;
  const lost: LoggedReport[] = [];
  const incomplete: LoggedReport[] = [];
  for (const r of reports) {
    const record = facts.postings.get(r.id);
    if (record) {
      posted++;
      // Announced as posted, yet Odoo holds only its first write: Odoo went back to a backup taken
      // between the posting's steps. (A pending record of an event not yet announced is under way.)
      if (record.pending && log.posted.has(r.id)) incomplete.push(r);
      const good = r.good;
      if (
        microsOfFloat(record.good) !== good ||
        microsOfFloat(record.reject) !== r.reject ||
        record.countingPoint !== r.countingPoint
      )
        findings.push({
          kind: "quantity_mismatch",
          order: ref,
          message: `event ${r.id} (${r.machine}) reported good ${formatMicros(good)}, rejected ${formatMicros(r.reject)}; Odoo's record holds good ${record.good}, rejected ${record.reject}${record.countingPoint !== r.countingPoint ? ", with the other counting-point flag" : ""}`,
          events: [r.id],
        });
      continue;
    }
    const code = log.deadLettered.get(r.id);
    if (code !== undefined)
      findings.push({
        kind: "dead_lettered",
        order: ref,
        message: `event ${r.id} (${r.machine}) was dead-lettered (${code}) and is not in Odoo: fix the cause, then redrive it`,
        events: [r.id],
      });
    else if (log.posted.has(r.id) || (log.ackFloor > 0 && r.seq <= log.ackFloor)) lost.push(r);
    else waiting.push(r.id);
  }
  for (const e of log.runEnds) {
    const code = familyKey(e.orderRef) === ref ? log.deadLettered.get(e.id) : undefined;
    if (code !== undefined)
      findings.push({
        kind: "dead_lettered",
        order: e.orderRef,
        message: `the run end of ${e.orderRef} (${e.reason}, ${e.endedAt.toISOString()}) was dead-lettered (${code}): the order is still open in Odoo; fix the cause, then redrive it`,
        events: [e.id],
      });
  }
  if (lost.length > 0) {
    const first = lost[0] as LoggedReport;
    const at = log.posted.get(first.id);
    findings.push({
      kind: "lost",
      order: ref,
      message: `${lost.length} report(s) ${at ? `posted ${at.toISOString()}` : "acknowledged by the connector"} are not in Odoo: restored from a backup? Replay them to post them again`,
      events: lost.map((r) => r.id),
    });
  }
  if (incomplete.length > 0)
    findings.push({
      kind: "incomplete",
      order: ref,
      message: `${incomplete.length} report(s) posted are in Odoo only in part (their quantity, not the components consumed at the machine's operation): restored from a backup taken mid-posting? Replay them to finish them`,
      events: incomplete.map((r) => r.id),
    });
  let outputDrift = 0n;
  for (const m of family?.members ?? []) {
    const ours = m.postings.filter((p) => p.kind === "report");
    if (ours.length === 0) continue;
    outputDrift += checkMember(m, ours, reports, facts, findings);
  }
  const counting = reports.filter((r) => r.countingPoint);
  return {
    orderRef: ref,
    counted: {
      good: formatMicros(sumMicros(counting.map((r) => r.good))),
      reject: formatMicros(sumMicros(counting.map((r) => r.reject))),
    },
    posted,
    waiting,
    findings,
    outputDrift: formatMicros(outputDrift),
  };
}

/** One order's checks; returns its output drift. */
function checkMember(
  m: MemberFacts,
  ours: MemberFacts["postings"],
  reports: readonly LoggedReport[],
  facts: OdooFacts,
  findings: Finding[],
): Micros {
  // A serial product's units each have a record on their own order; the report's record sums them.
  const quantities = ours.filter((p) => p.countingPoint && p.details["serialUnits"] === undefined);
  const counted = sumMicros(quantities.map((p) => microsOfFloat(p.good) + microsOfFloat(p.reject)));
  const drift = m.produced - counted;
  if (drift !== 0n)
    findings.push({
      kind: "output",
      order: m.name,
      message: `Odoo holds ${formatMicros(m.produced)} produced on ${m.name}, the counting point's postings add up to ${formatMicros(counted)} (${drift > 0n ? "more" : "less"} in Odoo by ${formatMicros(absMicros(drift))}: upstream counts booked as finished goods, or a quantity changed in Odoo)`,
    });
  if (m.produced > 0n)
    for (const c of m.components) {
      if (absMicros(c.consumed - c.expected) <= c.tolerance) continue;
      findings.push({
        kind: "components",
        order: m.name,
        message: `${m.name}: ${c.code ?? c.product} consumed ${formatMicros(c.consumed)}, the BoM expects ${formatMicros(c.expected)} for ${formatMicros(m.produced)} produced`,
      });
    }
  if (m.state === "done" && m.productId !== false) {
    const rejects = sumMicros(quantities.map((p) => microsOfFloat(p.reject)));
    const scrapped = m.scrapped.get(m.productId) ?? 0n;
    if (scrapped !== rejects)
      findings.push({
        kind: "scrap",
        order: m.name,
        message: `${m.name}: ${formatMicros(scrapped)} of the finished product scrapped, the counting point rejected ${formatMicros(rejects)}`,
      });
  }
  const posted = new Set(ours.map((p) => p.eventId));
  const componentRejects = new Map<string, Micros>();
  for (const r of reports)
    if (posted.has(r.id) && !r.countingPoint && r.rejectedComponent !== null && r.reject > 0n)
      componentRejects.set(r.rejectedComponent, (componentRejects.get(r.rejectedComponent) ?? 0n) + r.reject);
  for (const [code, rejected] of componentRejects) {
    const product = [...facts.codes.entries()].find(([, c]) => c === code)?.[0];
    const scrapped = product === undefined ? 0n : (m.scrapped.get(product) ?? 0n);
    if (scrapped !== rejected)
      findings.push({
        kind: "scrap",
        order: m.name,
        message: `${m.name}: ${formatMicros(scrapped)} of component ${code} scrapped, the machines handling it rejected ${formatMicros(rejected)}`,
      });
  }
  for (const wo of m.workorders) {
    const mine = ours.filter((p) => p.workorderId === wo.id);
    const ran = mine.reduce((s, p) => s + p.runningMinutes, 0);
    // Odoo computes a log's minutes from whole-second dates, rounded to 0.01 min
    // (`_convert_to_duration`): up to a second and 0.005 min per log it holds.
    const tolerance = (1 / 60 + 0.005) * Math.max(1, wo.logs) + 1e-9;
    if (Math.abs(wo.minutes - ran) <= tolerance) continue;
    findings.push({
      kind: "time",
      order: m.name,
      message: `${m.name}: work order at ${wo.workcenter} holds ${wo.minutes.toFixed(2)} min, the machines ran ${ran.toFixed(2)} min${ran === 0 && m.state === "done" ? " (Odoo's expected duration, filled in at the close?)" : ""}`,
    });
  }
  if (m.state === "done" && !m.postings.some((p) => p.kind === "close"))
    findings.push({
      kind: "closed_without_run_end",
      order: m.name,
      message: `${m.name} is done in Odoo without a run end posted by Threadline (closed by hand, or one backorder per report?)`,
    });
  return drift;
}

/**
 * The report as Prometheus text (node_exporter's textfile collector), through prom-client: the
 * output drift per order, findings per kind, reports not posted yet.
 */
export async function driftMetricsText(report: ReconcileReport): Promise<string> {
  const registry = new Registry();
  recordDrift(report, registry);
  return registry.metrics();
}

/**
 * Writes {@link driftMetricsText} to `file` atomically: into a temporary file beside it (a name the
 * textfile collector ignores: it reads `*.prom` only), then renamed over it, so a scrape never sees
 * a half-written file and a failed write leaves the previous one in place.
 */
export async function writeDriftMetrics(report: ReconcileReport, file: string): Promise<void> {
  const text = await driftMetricsText(report);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/** Sets the reconciliation gauges of `registry` from a report (the periodic reconciliation's metrics). */
export function recordDrift(report: ReconcileReport, registry: Registry): void {
  const g = reconcileMetrics(registry);
  g.drift.reset();
  for (const o of report.orders)
    g.drift.set({ order_ref: o.orderRef }, microsToNumber(microsOf(o.outputDrift)));
  for (const kind of FINDING_KINDS)
    g.findings.set(
      { kind },
      report.orders.reduce((n, o) => n + o.findings.filter((f) => f.kind === kind).length, 0),
    );
  g.waiting.set(report.orders.reduce((n, o) => n + o.waiting.length, 0));
  g.completedAt.set(report.until.getTime() / 1000);
}
