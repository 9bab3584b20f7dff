/**
 * docs/metrics.md cannot drift from what the processes emit:
 * - its SDK part is what the catalogue (SDK_METRICS, streams/src/metrics.ts) renders, and the SDK's
 *   metrics are made from that catalogue;
 * - every table (SDK, machine bridge, Odoo connector) lists exactly the metrics the code registers,
 *   with their types and label names;
 * - a service taken through every outcome against a real server emits only catalogued metric names,
 *   label names and label values, and emits every consumer outcome and duplicate value the
 *   catalogue lists (a value the docs name but the SDK never emits fails here, as `retried` once did).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { Registry } from "prom-client";
import { describeErrorCode, PACKAGE_ROOT } from "../../contracts/src/index.js";
import { genealogyMetrics } from "../../services/genealogy-builder/src/metrics.js";
import { bridgeMetrics } from "../../services/machine-bridge/src/metrics.js";
import {
  connectorMetrics,
  masterDataMetrics,
  reconcileMetrics,
} from "../../services/odoo-connector/src/metrics.js";
import { odooClientMetrics } from "../../services/odoo-connector/src/odoo/metrics.js";
import { consoleMetrics } from "../../services/ops-console/src/metrics.js";
import { orchestratorMetrics } from "../../services/production-orchestrator/src/metrics.js";
import { qualityMetrics } from "../../services/quality-service/src/metrics.js";
import { defaultRegistry, type LabelValues, metricsFor, SDK_METRICS } from "../../streams/src/metrics.js";
import { METRICS_BEGIN, METRICS_END, renderSdkMetrics } from "../../tools/cli/metrics.js";
import { runEveryOutcome } from "./fixtures/every-outcome.js";

const PAGE = readFileSync(join(PACKAGE_ROOT, "docs/metrics.md"), "utf8");

interface Row {
  readonly name: string;
  readonly type: string;
  readonly labels: string[];
}

/** The metric rows of the page's tables, by section (`##` heading; the SDK's before the first). */
function documentedRows(page: string): Map<string, Row[]> {
  const sections = new Map<string, Row[]>();
  let section = "SDK";
  for (const line of page.split("\n")) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) section = heading[1] as string;
    const row = /^\| `(threadline_[a-z0-9_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|/.exec(line);
    if (!row) continue;
    const labels = [...(row[3] as string).matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    sections.set(section, [
      ...(sections.get(section) ?? []),
      { name: row[1] as string, type: row[2] as string, labels },
    ]);
  }
  return sections;
}

/** What a registry holds, as rows (name, type, label names). */
async function registeredRows(registry: Registry): Promise<Row[]> {
  return (await registry.getMetricsAsJSON()).map((m) => ({
    name: m.name,
    type: String(m.type),
    labels: [
      ...((registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? []),
    ],
  }));
}

const byName = (rows: Row[]) => [...rows].sort((a, b) => a.name.localeCompare(b.name));

test("metrics doc - the SDK part of docs/metrics.md is what the catalogue renders (threadline metrics --update docs/metrics.md)", () => {
  const begin = PAGE.indexOf(METRICS_BEGIN);
  const end = PAGE.indexOf(METRICS_END);
  assert.ok(begin >= 0 && end > begin, "the generated part's markers are missing");
  assert.equal(PAGE.slice(begin, end + METRICS_END.length), renderSdkMetrics());
});

test("metrics doc - every table lists exactly the metrics the code registers, with their types and labels", async () => {
  const sections = documentedRows(PAGE);
  const sdk = new Registry();
  metricsFor(sdk);
  const bridge = new Registry();
  bridgeMetrics(bridge);
  const connector = new Registry();
  connectorMetrics(connector);
  reconcileMetrics(connector);
  masterDataMetrics(connector);
  odooClientMetrics(connector);
  const orchestrator = new Registry();
  orchestratorMetrics(orchestrator);
  const genealogy = new Registry();
  genealogyMetrics(genealogy);
  const quality = new Registry();
  qualityMetrics(quality);
  const opsConsole = new Registry();
  consoleMetrics(opsConsole);
  assert.deepEqual(
    [...sections.keys()],
    [
      "SDK",
      "Machine bridge",
      "Odoo connector",
      "Production orchestrator",
      "Genealogy builder",
      "Quality service",
      "Ops console",
    ],
  );
  assert.deepEqual(byName(sections.get("SDK") ?? []), byName(await registeredRows(sdk)));
  assert.deepEqual(byName(sections.get("Machine bridge") ?? []), byName(await registeredRows(bridge)));
  assert.deepEqual(byName(sections.get("Odoo connector") ?? []), byName(await registeredRows(connector)));
  assert.deepEqual(
    byName(sections.get("Production orchestrator") ?? []),
    byName(await registeredRows(orchestrator)),
  );
  assert.deepEqual(byName(sections.get("Genealogy builder") ?? []), byName(await registeredRows(genealogy)));
  assert.deepEqual(byName(sections.get("Quality service") ?? []), byName(await registeredRows(quality)));
  assert.deepEqual(byName(sections.get("Ops console") ?? []), byName(await registeredRows(opsConsole)));
});

/** Whether `value` is one of `allowed` (a value written `api_<code>` is a pattern: `api_` and digits). */
function allowedValue(allowed: LabelValues, value: string): boolean {
  if (allowed === "open") return true;
  if (allowed === "error-code") return describeErrorCode(value) !== undefined;
  return Object.keys(allowed).some((v) =>
    v.includes("<") ? new RegExp(`^${v.replace(/<[^>]+>/g, "\\d+")}$`).test(value) : v === value,
  );
}

test("metrics doc - a service taken through every outcome emits only catalogued names and label values, and every outcome listed", async (t) => {
  await runEveryOutcome(t, { logDestination: new PassThrough() });
  const emitted = new Map<string, Map<string, Set<string>>>(); // metric → label → values
  for (const metric of await defaultRegistry.getMetricsAsJSON()) {
    if (!metric.name.startsWith("threadline_")) continue;
    const entry = (SDK_METRICS as Record<string, (typeof SDK_METRICS)[keyof typeof SDK_METRICS]>)[
      metric.name
    ];
    assert.ok(entry, `${metric.name} is emitted but not in SDK_METRICS`);
    const labels = new Map<string, Set<string>>();
    for (const v of metric.values)
      for (const [label, value] of Object.entries(v.labels)) {
        if (label === "le") continue; // a histogram's bucket bound
        assert.ok((entry.labels as readonly string[]).includes(label), `${metric.name} has label ${label}`);
        const allowed = (entry.values as Record<string, LabelValues>)[label] ?? "open";
        assert.ok(
          allowedValue(allowed, String(value)),
          `${metric.name}{${label}="${value}"} is not catalogued`,
        );
        labels.set(label, (labels.get(label) ?? new Set()).add(String(value)));
      }
    emitted.set(metric.name, labels);
  }
  const values = (metric: string, label: string) => [...(emitted.get(metric)?.get(label) ?? [])].sort();
  assert.deepEqual(
    values("threadline_events_consumed_total", "outcome"),
    Object.keys(SDK_METRICS.threadline_events_consumed_total.values.outcome).sort(),
    "the run emits every consumer outcome the catalogue lists, and no other",
  );
  assert.deepEqual(
    values("threadline_events_published_total", "duplicate"),
    Object.keys(SDK_METRICS.threadline_events_published_total.values.duplicate).sort(),
  );
  assert.deepEqual(values("threadline_dead_lettered_total", "reason"), ["PAYLOAD_INVALID"]);
  assert.ok(values("threadline_publish_errors_total", "code").length > 0, "the failing publish was counted");
  for (const name of Object.keys(SDK_METRICS))
    assert.ok(emitted.has(name), `${name} is catalogued but the run did not emit it`);
});

test("the alert rules under deploy/prometheus name metrics the services register (or Node's process metrics), each with a severity, a summary and its runbook", async () => {
  const { parse } = await import("yaml");
  const registry = new Registry();
  metricsFor(registry);
  bridgeMetrics(registry);
  connectorMetrics(registry);
  reconcileMetrics(registry);
  masterDataMetrics(registry);
  odooClientMetrics(registry);
  orchestratorMetrics(registry);
  genealogyMetrics(registry);
  qualityMetrics(registry);
  const known = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const dir = join(PACKAGE_ROOT, "deploy/prometheus");
  const operations = readFileSync(join(PACKAGE_ROOT, "docs/operations.md"), "utf8");
  const anchors = new Set(
    [...operations.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
      (m[1] as string)
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, "")
        .replace(/ /g, "-"),
    ),
  );
  const alerts: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith("-rules.yaml"))) {
    const rules = parse(readFileSync(join(dir, file), "utf8")) as {
      groups: {
        rules: {
          alert: string;
          expr: string;
          labels: { severity: string };
          annotations: { summary: string; runbook_url?: string };
        }[];
      }[];
    };
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      alerts.push(r.alert);
      const names = r.expr.match(/\b(threadline|nodejs|process)_[a-z0-9_]+/g) ?? [];
      assert.ok(names.length > 0, `${r.alert} names no metric`);
      for (const n of names)
        assert.ok(
          known.has(n.replace(/_(bucket|sum|count)$/, "")) || /^(nodejs|process)_/.test(n),
          `${file} ${r.alert}: ${n} is not registered`,
        );
      assert.match(r.labels.severity, /^(critical|warning)$/);
      assert.ok(r.annotations.summary.length > 0);
      const anchor = /^docs\/operations\.md#(.+)$/.exec(r.annotations.runbook_url ?? "")?.[1];
      assert.ok(
        anchor && anchors.has(anchor),
        `${r.alert}: its runbook ${r.annotations.runbook_url} is not a section of docs/operations.md`,
      );
    }
  }
  for (const a of [
    "QualityHoldEscaped",
    "ThreadlineErpDrift",
    "ThreadlinePlantMachineOffline",
    "ThreadlineDeadLetters",
    "ThreadlinePostingLagHigh",
  ])
    assert.ok(alerts.includes(a), a);
});

test("the Grafana dashboard (deploy/grafana/threadline.json) charts metrics the services register, each panel on the chosen Prometheus", async () => {
  const registry = new Registry();
  metricsFor(registry);
  bridgeMetrics(registry);
  connectorMetrics(registry);
  reconcileMetrics(registry);
  masterDataMetrics(registry);
  odooClientMetrics(registry);
  orchestratorMetrics(registry);
  genealogyMetrics(registry);
  qualityMetrics(registry);
  const known = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const dashboard = JSON.parse(
    readFileSync(join(PACKAGE_ROOT, "deploy/grafana/threadline.json"), "utf8"),
  ) as {
    uid: string;
    panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
  };
  assert.ok(dashboard.uid);
  const charted = new Set<string>();
  for (const p of dashboard.panels) {
    assert.equal(p.datasource.uid, "${datasource}", p.title);
    for (const t of p.targets)
      for (const n of t.expr.match(/\b(threadline|nodejs|process)_[a-z0-9_]+/g) ?? []) {
        charted.add(n);
        assert.ok(
          known.has(n.replace(/_(bucket|sum|count)$/, "")) || /^(nodejs|process)_/.test(n),
          `${p.title}: ${n}`,
        );
      }
  }
  // The business signals the issue names: posting lag, backlog, drift, dead letters, missed holds, plant.
  for (const n of [
    "threadline_erp_posting_lag_seconds_bucket",
    "threadline_erp_backlog_events",
    "threadline_erp_drift_quantity",
    "threadline_dead_lettered_total",
    "threadline_quality_hold_escapes_total",
    "threadline_bridge_endpoint_up",
  ])
    assert.ok(charted.has(n), `the dashboard charts ${n}`);
});
