/**
 * Business health over a window, from what the streams hold: dead letters, the Odoo posting lag (a count
 * on the floor until the connector said Odoo accepted it), missed holds (a held lot that left: the
 * quality service's HOLD-ESCAPE nonconformances), the quantity counted but not posted (drift between the
 * plant and the ERP as the events tell it; `threadline odoo reconcile` asks Odoo itself), and each
 * durable's backlog: now, and as sampled by this console every minute over the last 24 h.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../../contracts/src/index.js";
import { DLQ_STREAM, type Logger, readMessages } from "../../../../streams/src/index.js";
import type { Replays } from "./replays.js";
import { eventRow, mergeScans, scanEvents } from "./scan.js";

export interface Bucket {
  /** The bucket's start. */
  readonly at: string;
  readonly deadLetters: number;
  readonly missedHolds: number;
  /** Postings accepted in the bucket, and their lag in seconds. */
  readonly postings: number;
  readonly lagP50Seconds: number | null;
  readonly lagMaxSeconds: number | null;
}

export interface BacklogPoint {
  readonly at: string;
  /** Pending + waiting for an ack, over every durable. */
  readonly total: number;
}

const SAMPLE_MS = 60_000;
const KEEP_SAMPLES = 24 * 60;

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export class Health {
  readonly #samples: BacklogPoint[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly codec: EventCodec,
    private readonly replays: Replays,
    private readonly logger: Logger,
  ) {}

  /** Samples the backlog every minute (kept 24 h, in this replica's memory). */
  start(): void {
    const sample = () =>
      void this.backlog().then(
        (b) => {
          this.#samples.push({
            at: new Date().toISOString(),
            total: b.reduce((n, d) => n + d.pending + d.ackPending, 0),
          });
          if (this.#samples.length > KEEP_SAMPLES) this.#samples.shift();
        },
        (err: unknown) => this.logger.warn({ err }, "health: the backlog could not be sampled"),
      );
    sample();
    this.#timer = setInterval(sample, SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Each durable's backlog now: messages not yet delivered, and delivered but not acknowledged. */
  async backlog() {
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    const out: {
      stream: string;
      durable: string;
      pending: number;
      ackPending: number;
      redelivered: number;
    }[] = [];
    for (const t of await this.replays.targets()) {
      const ci = await jsm.consumers.info(t.stream, t.durable).catch(() => undefined);
      if (ci)
        out.push({
          stream: t.stream,
          durable: t.durable,
          pending: ci.num_pending,
          ackPending: ci.num_ack_pending,
          redelivered: ci.num_redelivered,
        });
    }
    return out.sort((a, b) => b.pending + b.ackPending - (a.pending + a.ackPending));
  }

  /** The window in buckets, the unposted quantities, the backlog now and sampled. */
  async overview(o: { windowMs: number; buckets: number; now?: number }) {
    const now = o.now ?? Date.now();
    const since = new Date(now - o.windowMs);
    const width = o.windowMs / o.buckets;
    const index = (t: number) =>
      Math.min(o.buckets - 1, Math.max(0, Math.floor((t - since.getTime()) / width)));
    const deadLetters = new Array<number>(o.buckets).fill(0);
    const missed = new Array<number>(o.buckets).fill(0);
    const lags: number[][] = Array.from({ length: o.buckets }, () => []);

    let dlqRead = 0;
    for await (const m of readMessages(this.nc, {
      stream: DLQ_STREAM,
      since,
      headersOnly: true,
      ifMissing: "empty",
      cleanup: "expire",
    })) {
      dlqRead++;
      deadLetters[index(Number(m.timestampNanos / 1_000_000n))]!++;
    }
    // A posting's lag: from its count's report to Odoo's acceptance. Counts older than the window are
    // read from a day before it, so a posting late by up to a day still finds its count.
    const reportedAt = new Map<string, number>();
    // By order, in the unit each side gave; orders whose counts and postings are in different units are
    // not compared here (the connector converts with the master data; `threadline odoo reconcile` checks).
    const counted = new Map<string, { qty: number; uom: string }>();
    const posted = new Map<string, { qty: number; uom: string }>();
    const add = (
      m: Map<string, { qty: number; uom: string }>,
      order: string,
      q: { value: string; uom: string },
    ) => {
      const was = m.get(order);
      m.set(order, {
        qty: (was?.qty ?? 0) + Number(q.value),
        uom: was && was.uom !== q.uom ? "(mixed)" : q.uom,
      });
    };
    const scans = [
      await scanEvents(
        this.nc,
        this.codec,
        {
          stream: "MFG_PRODUCTION",
          filter: "mfg.production.production_reported.>",
          since: new Date(since.getTime() - 86_400_000),
        },
        (e) => {
          const row = eventRow(e);
          reportedAt.set(row.id, Date.parse(String(row.value["reportedAt"])));
          const order = row.value["orderRef"];
          if (typeof order === "string" && row.value["countingPoint"] === true)
            add(counted, order, row.value["goodQuantity"] as { value: string; uom: string });
        },
      ),
      await scanEvents(
        this.nc,
        this.codec,
        {
          stream: "MFG_PRODUCTION",
          filter: "mfg.production.production_posted.>",
          since: new Date(since.getTime() - 86_400_000),
        },
        (e) => {
          const row = eventRow(e);
          const order = String(row.value["orderRef"]);
          add(posted, order, row.value["postedGoodQuantity"] as { value: string; uom: string });
          const at = Date.parse(String(row.value["postedAt"]));
          const from = reportedAt.get(String(row.value["sourceEventId"]));
          if (at >= since.getTime() && from !== undefined)
            lags[index(at)]!.push(Math.max(0, (at - from) / 1000));
        },
      ),
      await scanEvents(
        this.nc,
        this.codec,
        { stream: "MFG_QUALITY", filter: "mfg.quality.nonconformance_raised.>", since },
        (e) => {
          const row = eventRow(e);
          if (row.value["defectCode"] === "HOLD-ESCAPE") missed[index(Date.parse(row.storedAt))]!++;
        },
      ),
    ];
    const buckets: Bucket[] = deadLetters.map((n, i) => {
      const sorted = [...lags[i]!].sort((a, b) => a - b);
      return {
        at: new Date(since.getTime() + i * width).toISOString(),
        deadLetters: n,
        missedHolds: missed[i]!,
        postings: sorted.length,
        lagP50Seconds: quantile(sorted, 0.5),
        lagMaxSeconds: sorted.length ? sorted[sorted.length - 1]! : null,
      };
    });
    const unposted = [...counted.entries()]
      .map(([orderRef, c]) => {
        const p = posted.get(orderRef);
        const comparable = !p || (p.uom === c.uom && c.uom !== "(mixed)");
        return {
          orderRef,
          counted: c.qty,
          posted: p?.qty ?? 0,
          uom: c.uom,
          postedUom: p?.uom ?? c.uom,
          unposted: comparable ? c.qty - (p?.qty ?? 0) : null,
        };
      })
      .filter((u) => u.unposted === null || Math.abs(u.unposted) > 1e-9)
      .sort((a, b) => Math.abs(b.unposted ?? 0) - Math.abs(a.unposted ?? 0));
    return {
      since: since.toISOString(),
      bucketSeconds: width / 1000,
      buckets,
      unposted: unposted.slice(0, 20),
      unpostedOrders: unposted.length,
      backlog: await this.backlog(),
      backlogSamples: this.#samples.filter((s) => Date.parse(s.at) >= since.getTime()),
      scan: { ...mergeScans(scans), dlqRead },
    };
  }
}
