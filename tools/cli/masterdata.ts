/**
 * `threadline masterdata check`: Odoo's master data against what postings need (see
 * services/odoo-connector/src/masterdata/check.ts). Odoo settings as for the connector (ODOO_URL,
 * ODOO_DB, ODOO_LOGIN, ODOO_API_KEY), the line mapping from WORKCENTER_BY_LINE. Exit 0: nothing
 * blocks postings (warnings may be printed), 1: something does, 2: usage.
 */
import { Command, InvalidArgumentError } from "commander";
import { loadBridgeConfig } from "../../services/machine-bridge/src/config.js";
import {
  EquipmentSettings,
  MasterDataSettings,
  OdooSettings,
  odooClientOptions,
} from "../../services/odoo-connector/src/config.js";
import { EquipmentMap } from "../../services/odoo-connector/src/equipment.js";
import {
  checkMasterData,
  loadSnapshot,
  type MasterDataReport,
} from "../../services/odoo-connector/src/masterdata/index.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { loadConfig } from "../../streams/src/index.js";
import { action, EXIT } from "./run.js";

function print(report: MasterDataReport): void {
  const out = (l: string) => process.stdout.write(`${l}\n`);
  for (const f of report.findings) {
    out(`${f.severity === "blocking" ? "BLOCKING" : "warning "} ${f.check}: ${f.message}`);
    for (const r of f.records) out(`           ${r.model} ${r.id} ${r.name}`);
  }
  const blocking = report.findings.filter((f) => f.severity === "blocking").length;
  out(
    report.findings.length === 0
      ? "master data ok"
      : `${blocking} blocking, ${report.findings.length - blocking} warning(s)`,
  );
}

const regex = (v: string) => {
  try {
    return new RegExp(v);
  } catch (err) {
    throw new InvalidArgumentError(`not a regular expression: ${(err as Error).message}`);
  }
};

export function masterdataCommand(): Command {
  const cmd = new Command("masterdata").description("Odoo's master data as Threadline's postings need it");
  cmd
    .command("check")
    .description(
      "report duplicate product codes and barcodes, bills of materials in units that do not convert or naming archived products, work centres no line maps to, machines Odoo has no work centre for, lots breaking the site's convention; exit 1 when something blocks postings",
    )
    .option(
      "--bridge-config <file>",
      "the machine bridge's mapping: its machines must have work centres in Odoo",
    )
    .option(
      "--lot-pattern <regex>",
      "the site's lot-name convention (default: $LOT_PATTERN; unset: not checked)",
      regex,
    )
    .option("--json", "print the report as JSON")
    .action(
      action(async (opts: { bridgeConfig?: string; lotPattern?: RegExp; json?: boolean }) => {
        const settings = loadConfig(OdooSettings, { env: process.env, file: "" });
        const equipment = loadConfig(EquipmentSettings, { env: process.env, file: "" });
        const md = loadConfig(MasterDataSettings, { env: process.env, file: "" });
        const map = new EquipmentMap(equipment.WORKCENTER_BY_LINE, equipment.LINE_BY_WORKCENTER);
        const bridge = opts.bridgeConfig ? loadBridgeConfig(opts.bridgeConfig) : undefined;
        const machines = bridge?.endpoints.flatMap((e) =>
          e.machines.map((m) => ({
            line: m.line,
            machine: m.machine,
            workcenter: map.workcenterOf(m.line, m.machine),
          })),
        );
        const lotPattern = opts.lotPattern ?? md.LOT_PATTERN;
        const client = await OdooClient.connect(odooClientOptions(settings));
        try {
          const report = checkMasterData(await loadSnapshot(client), {
            // Without a mapping, lines are named by their work centres' codes: nothing to check.
            ...(Object.keys(equipment.WORKCENTER_BY_LINE).length > 0
              ? { workcenterByLine: equipment.WORKCENTER_BY_LINE }
              : {}),
            ...(machines ? { machines } : {}),
            ...(lotPattern ? { lotPattern } : {}),
          });
          if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else print(report);
          return report.blocking ? EXIT.failed : EXIT.ok;
        } finally {
          await client.close();
        }
      }),
    );
  return cmd;
}
