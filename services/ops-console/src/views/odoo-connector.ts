/**
 * The Odoo connector as the Plants and Health pages show it, from its own Prometheus metrics (its
 * `/metrics`, with METRICS_TOKEN): the circuit breaker in front of Odoo, each synced model's age, the
 * backlog of its durables, and its last reconciliation against Odoo — per order, Odoo's produced
 * quantity minus the counting point's postings. The console reads what the connector already exposes;
 * it never talks to Odoo itself.
 */
import { ConsoleError, ConsoleErrorCode } from "../errors.js";

/** One sample of the text exposition format: `name{label="v",…} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition (comments and malformed lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL))
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    const value = Number(m[3]);
    if (!Number.isNaN(value) || m[3] === "NaN") out.push({ name: m[1]!, labels, value });
  }
  return out;
}

const BREAKER = ["closed", "half-open", "open"] as const;

export class OdooConnectorStatus {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  async status() {
    let text: string;
    try {
      const res = await fetch(`${this.url.replace(/\/$/, "")}/metrics`, {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      text = await res.text();
    } catch (err) {
      throw new ConsoleError(
        ConsoleErrorCode.UpstreamFailed,
        `the Odoo connector's metrics at ${this.url}/metrics: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const samples = parseMetrics(text);
    const of = (name: string) => samples.filter((s) => s.name === name);
    const breaker = of("threadline_odoo_breaker_state")[0]?.value;
    const reconciled = of("threadline_erp_reconcile_completed_timestamp_seconds")[0]?.value;
    return {
      breaker: breaker === undefined ? null : (BREAKER[breaker] ?? String(breaker)),
      syncAgeSeconds: of("threadline_odoo_sync_age_seconds")
        .map((s) => ({ model: s.labels["model"] ?? "?", seconds: s.value }))
        .sort((a, b) => b.seconds - a.seconds),
      backlog: of("threadline_erp_backlog_events").map((s) => ({
        consumer: s.labels["consumer"] ?? "?",
        events: s.value,
      })),
      inFlight: of("threadline_odoo_in_flight")[0]?.value ?? null,
      reconciledAt: reconciled ? new Date(reconciled * 1000).toISOString() : null,
      drift: of("threadline_erp_drift_quantity")
        .filter((s) => s.value !== 0)
        .map((s) => ({ orderRef: s.labels["order_ref"] ?? "?", quantity: s.value })),
      findings: of("threadline_erp_reconcile_findings").map((s) => ({
        kind: s.labels["kind"] ?? "?",
        count: s.value,
      })),
      unposted: of("threadline_erp_reconcile_unposted_events")[0]?.value ?? null,
    };
  }
}
