/**
 * The master-data checks in the running connector: at start, then every `intervalMs`, as metrics
 * (`threadline_masterdata_findings{check,severity}`) and one warning line per finding — so a
 * duplicate code or an archived component shows on a dashboard before a posting dead-letters on it.
 */
import type { Registry } from "prom-client";
import type { Logger } from "../../../../streams/src/index.js";
import { type MasterDataMetrics, masterDataMetrics } from "../metrics.js";
import type { OdooClient } from "../odoo/client.js";
import { OdooSetup } from "../outbound/steps.js";
import {
  checkMasterData,
  MASTER_DATA_CHECKS,
  type MasterDataCheckOptions,
  type MasterDataReport,
} from "./check.js";
import { loadSnapshot } from "./odoo.js";

export interface MasterDataWatchOptions {
  readonly client: OdooClient;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly check: MasterDataCheckOptions;
  /** Between two runs; 0: at start only. @default 3600000 */
  readonly intervalMs?: number;
}

export class MasterDataWatch {
  readonly #o: MasterDataWatchOptions;
  readonly #metrics: MasterDataMetrics;
  /** Odoo's fields, asked once for every run. */
  readonly #setup: OdooSetup;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<MasterDataReport | undefined> | undefined;

  constructor(options: MasterDataWatchOptions) {
    this.#o = options;
    this.#metrics = masterDataMetrics(options.registry);
    this.#setup = new OdooSetup(options.client);
  }

  /** Runs the checks now (in the background) and then every interval. */
  start(): void {
    void this.run();
    const every = this.#o.intervalMs ?? 3_600_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.run(), every);
      this.#timer.unref();
    }
  }

  /** One run; a run under way is shared. Odoo down: skipped (the breaker says so elsewhere). */
  run(): Promise<MasterDataReport | undefined> {
    this.#running ??= this.#runOnce().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async #runOnce(): Promise<MasterDataReport | undefined> {
    const { client, logger } = this.#o;
    if (client.breaker.state === "open") return undefined;
    try {
      const report = checkMasterData(await loadSnapshot(client, { setup: this.#setup }), this.#o.check);
      for (const [check, severity] of Object.entries(MASTER_DATA_CHECKS))
        this.#metrics.findings.set(
          { check, severity },
          report.counts[check as keyof typeof MASTER_DATA_CHECKS],
        );
      this.#metrics.checkedAt.set(Date.now() / 1000);
      for (const f of report.findings)
        logger.warn(
          { check: f.check, severity: f.severity, records: f.records.map((r) => `${r.model}:${r.id}`) },
          `master data: ${f.message}`,
        );
      return report;
    } catch (err) {
      logger.warn({ err }, "master-data check failed; it runs again at the next interval");
      return undefined;
    }
  }
}
