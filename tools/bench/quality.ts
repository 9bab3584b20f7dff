/**
 * The quality service's shipment gate, end to end through NATS: a nats-server with the platform's
 * declarations, the quality service (services/quality-service/src/main.ts, its own consumers, KV state
 * and publisher), and a stand-in for the genealogy builder's trace route (a bare node:http server that
 * answers each lot's backward trace at once with the lot and one component lot: the gate's genealogy
 * call without a database behind it; `threadline bench --only genealogy` measures the real traces).
 *
 * - request: N deliveries requested (ShipmentRequested, one lot each, published as the Odoo connector
 *   does), one at a time → the time to the gate's decision (ShipmentCleared) delivered from MFG_SHIPPING;
 * - hold: H times, a hold placed on the lot of one of those deliveries (QualityHoldPlaced published as any
 *   service may) → the time to its ShipmentBlocked delivered from MFG_SHIPPING; the hold is then released
 *   (QualityHoldReleased) → the time to ShipmentCleared;
 * - the same through the HTTP API, as `threadline quality hold` and `release` do: POST /quality/holds
 *   (the service follows the hold's scope through the genealogy, publishes QualityHoldPlaced and applies
 *   it) → ShipmentBlocked, then POST /quality/holds/:id/decision → ShipmentCleared;
 * - raw: the raw @nats-io client's JetStream publish (ack awaited) → delivery to an ordered consumer of a
 *   stream of its own, one message at a time, in the same run. The gate's paths are two such hops (into
 *   the service, out of it) plus the service's work (decode, KV writes of the state, the decision).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { EventCodec, type EventPayloads } from "../../contracts/src/index.js";
import { startService } from "../../services/quality-service/src/main.js";
import { tokenDigest } from "../../services/quality-service/src/users.js";
import {
  applyPlan,
  connectionOptions,
  EventPublisher,
  fromHeaders,
  natsSettingsFromEnv,
  planChanges,
  serverFacts,
} from "../../streams/src/index.js";
import { startNatsServer } from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";

export interface QualityBenchOptions {
  /** Deliveries requested and watched. @default 200 */
  deliveries?: number;
  /** Holds placed (and released), each on the lot of one delivery. @default 200 */
  holds?: number;
  /** A nats-server to use instead of starting one (its MFG_* streams get the bench's events). */
  natsUrl?: string;
}

export const QUALITY_BENCH_DEFAULTS = { deliveries: 200, holds: 200 } as const;

const SITE = "plant-bench";
const PRODUCT = "FG-1";
const RAW_STREAM = "BENCH_QUALITY_RAW";
const WAIT_MS = 10_000;

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface QualityBenchResult {
  readonly deliveries: number;
  readonly holds: number;
  readonly genealogy: string;
  readonly requestToDecision: Latency;
  readonly holdToBlocked: Latency;
  readonly releaseToCleared: Latency;
  /** The same through the HTTP API (as `threadline quality hold` / `release`): POST → stored decision. */
  readonly apiHoldToBlocked: Latency;
  readonly apiReleaseToCleared: Latency;
  readonly raw: Latency;
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;

function latency(ms: readonly number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 0.5),
    p95: percentile(s, 0.95),
    p99: percentile(s, 0.99),
    max: s.at(-1) ?? 0,
  };
}

/** The genealogy's trace route, answered at once: the lot and one component lot (backward). */
async function genealogyStandIn(token: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/genealogy\/lots\/([^/]+)\/trace$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${token}` || !m) {
      res.writeHead(m ? 401 : 404, { "content-type": "application/json" }).end("{}");
      return;
    }
    const lot = decodeURIComponent(m[1] as string);
    const product = url.searchParams.get("product") ?? "";
    const lots = [{ lot, product, depth: 0 }];
    if (url.searchParams.get("direction") === "backward")
      lots.push({ lot: `RM-${lot}`, product: "RAW-1", depth: 1 });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ lots }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

type Decision = { type: "blocked" | "cleared"; holdIds: string[]; at: number };

export async function runQualityBench(
  options: QualityBenchOptions = {},
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<QualityBenchResult> {
  const deliveries = options.deliveries ?? QUALITY_BENCH_DEFAULTS.deliveries;
  const holdCount = options.holds ?? QUALITY_BENCH_DEFAULTS.holds;
  const server = options.natsUrl ? undefined : await startNatsServer();
  const natsUrl = options.natsUrl ?? (server?.clientUrl as string);
  const nc: NatsConnection = await connect(connectionOptions(natsSettingsFromEnv({ NATS_URL: natsUrl })));
  const dir = mkdtempSync(join(tmpdir(), "threadline-quality-bench-"));
  const genealogyToken = randomBytes(24).toString("hex");
  const genealogy = await genealogyStandIn(genealogyToken);
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  const closers: (() => Promise<void>)[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    await applyPlan(
      jsm,
      await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)),
      {
        force: false,
      },
    );
    const raw = await rawRoundTrips(nc, holdCount);
    log(`quality: raw JetStream publish → ordered consumer p50 ${raw.p50.toFixed(2)} ms`);

    const apiToken = randomBytes(24).toString("hex");
    writeFileSync(
      join(dir, "users.json"),
      JSON.stringify({
        users: [{ name: "bench", tokenSha256: tokenDigest(apiToken), roles: ["hold", "release"] }],
      }),
    );
    writeFileSync(join(dir, "plan.json"), JSON.stringify({}));
    service = await startService({
      NATS_URL: natsUrl,
      SITE,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
      QUALITY_USERS_FILE: join(dir, "users.json"),
      QUALITY_CONFIG: join(dir, "plan.json"),
      GENEALOGY_URL: genealogy.url,
      GENEALOGY_API_TOKEN: genealogyToken,
    });

    // The gate's decisions as they are stored, by delivery.
    const codec = new EventCodec();
    const waiting = new Map<string, (d: Decision) => void>();
    const consumer = await jetstream(nc).consumers.get("MFG_SHIPPING", {
      // One filter (the 2.9 floor has no multiple filters): the requests are skipped by type below.
      filter_subjects: "mfg.shipping.>",
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    closers.push(async () => void (await messages.close()));
    void (async () => {
      for await (const m of messages) {
        const at = performance.now();
        const type = fromHeaders(m.headers).type;
        if (type === "mfg.shipping.shipment_blocked.v1") {
          const e = (await codec.decode<EventPayloads[typeof type]>(m.data, { as: type })).value;
          waiting.get(e.pickingRef)?.({
            type: "blocked",
            holdIds: e.blockedLots.flatMap((l) => l.holdIds),
            at,
          });
        } else if (type === "mfg.shipping.shipment_cleared.v1") {
          const e = (await codec.decode<EventPayloads[typeof type]>(m.data, { as: type })).value;
          waiting.get(e.pickingRef)?.({ type: "cleared", holdIds: [], at });
        }
      }
    })();
    const decision = (pickingRef: string, ok: (d: Decision) => boolean) =>
      new Promise<Decision>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(pickingRef);
          reject(new Error(`no decision on ${pickingRef} within ${WAIT_MS / 1000} s`));
        }, WAIT_MS);
        waiting.set(pickingRef, (d) => {
          if (!ok(d)) return;
          clearTimeout(timer);
          waiting.delete(pickingRef);
          resolve(d);
        });
      });

    const publisher = new EventPublisher(jetstream(nc), codec, { service: "bench", site: SITE });
    const ref = (i: number) => `WH/OUT/${String(i + 1).padStart(5, "0")}`;
    const lotOf = (i: number) => `LOT-BENCH-${String(i + 1).padStart(5, "0")}`;
    const product = { code: PRODUCT, name: "Bench product", odooId: 1n };

    log(`quality: requesting ${deliveries} deliveries`);
    const requested: number[] = [];
    for (let i = 0; i < deliveries; i++) {
      const cleared = decision(ref(i), (d) => d.type === "cleared");
      const t0 = performance.now();
      await publisher.publish(
        "mfg.shipping.shipment_requested.v1",
        {
          pickingRef: ref(i),
          odooPickingId: BigInt(i + 1),
          site: SITE,
          customerRef: "C-1",
          customerName: "Bench customer",
          salesOrderRef: null,
          lines: [{ product, lot: lotOf(i), quantity: { value: "10", uom: "Units" } }],
          scheduledAt: null,
          requestedAt: new Date(),
        },
        { site: SITE, key: ref(i) },
      );
      requested.push((await cleared).at - t0);
    }

    log(`quality: placing and releasing ${holdCount} holds`);
    const blocked: number[] = [];
    const released: number[] = [];
    for (let k = 0; k < holdCount; k++) {
      const i = k % deliveries;
      const holdId = `H-bench-${k}`;
      const onBlocked = decision(ref(i), (d) => d.type === "blocked" && d.holdIds.includes(holdId));
      const placedAt = new Date();
      const t0 = performance.now();
      await publisher.publish(
        "mfg.quality.quality_hold_placed.v1",
        {
          holdId,
          site: SITE,
          lot: lotOf(i),
          product,
          quantity: null,
          reason: "bench",
          status: "ACTIVE",
          triggeredBy: null,
          placedBy: "bench",
          placedAt,
        },
        { site: SITE, key: lotOf(i) },
      );
      blocked.push((await onBlocked).at - t0);
      const onCleared = decision(ref(i), (d) => d.type === "cleared");
      const t1 = performance.now();
      await publisher.publish(
        "mfg.quality.quality_hold_released.v1",
        {
          holdId,
          site: SITE,
          lot: lotOf(i),
          product,
          reason: "bench: released",
          status: "RELEASED",
          releasedBy: "bench",
          releasedAt: new Date(),
        },
        { site: SITE, key: lotOf(i) },
      );
      released.push((await onCleared).at - t1);
    }
    log(`quality: placing and releasing ${holdCount} holds through the API`);
    const url = service.url;
    const api = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`quality API POST ${path} answered ${res.status}: ${text}`);
      return JSON.parse(text) as { holds?: { holdId: string }[] };
    };
    const apiBlocked: number[] = [];
    const apiReleased: number[] = [];
    for (let k = 0; k < holdCount; k++) {
      const i = k % deliveries;
      const onBlocked = decision(ref(i), (d) => d.type === "blocked");
      const t0 = performance.now();
      const placed = await api("/quality/holds", {
        site: SITE,
        lot: lotOf(i),
        product: PRODUCT,
        reason: `bench: hold ${k} by hand`,
        scope: { forward: true, backward: false, depth: 10 },
      });
      apiBlocked.push((await onBlocked).at - t0);
      const onCleared = decision(ref(i), (d) => d.type === "cleared");
      const t1 = performance.now();
      for (const h of placed.holds ?? [])
        await api(`/quality/holds/${encodeURIComponent(h.holdId)}/decision`, {
          disposition: "release",
          comment: "bench: released",
        });
      apiReleased.push((await onCleared).at - t1);
    }
    return {
      deliveries,
      holds: holdCount,
      genealogy: "a stand-in HTTP server answering the trace route at once (lot + 1 component)",
      requestToDecision: latency(requested),
      holdToBlocked: latency(blocked),
      releaseToCleared: latency(released),
      apiHoldToBlocked: latency(apiBlocked),
      apiReleaseToCleared: latency(apiReleased),
      raw,
    };
  } finally {
    for (const c of closers) await c().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await new Promise((r) => genealogy.server.close(r));
    rmSync(dir, { recursive: true, force: true });
    await nc.close();
    await server?.dispose();
  }
}

/** The raw client's JetStream publish (ack awaited) → delivery to an ordered consumer, one at a time. */
async function rawRoundTrips(nc: NatsConnection, n: number): Promise<Latency> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: RAW_STREAM, subjects: ["bench.quality.raw"] });
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(RAW_STREAM, { deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    const payload = new Uint8Array(200);
    let arrived: (() => void) | undefined;
    void (async () => {
      for await (const _ of messages) arrived?.();
    })();
    const ms: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const got = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const t0 = performance.now();
      await js.publish("bench.quality.raw", payload);
      await got;
      if (i >= 20) ms.push(performance.now() - t0); // the first ones warm up
    }
    await messages.close();
    return latency(ms);
  } finally {
    await jsm.streams.delete(RAW_STREAM).catch(() => undefined);
  }
}

export function formatQualityBench(r: QualityBenchResult): string {
  const f = (v: number) => v.toFixed(1);
  const row = (name: string, l: Latency) =>
    `| ${name} | ${l.n} | ${f(l.p50)} | ${f(l.p95)} | ${f(l.p99)} | ${f(l.max)} | ${(l.p50 / r.raw.p50).toFixed(1)} × / ${(l.p99 / r.raw.p99).toFixed(1)} × |`;
  const worst = Math.max(r.holdToBlocked.p99, r.apiHoldToBlocked.p99);
  const goal = worst < 1000 ? "met" : "NOT met";
  return [
    `## quality: the shipment gate (${r.deliveries} deliveries watched; genealogy: ${r.genealogy})`,
    "",
    "| ms | n | p50 | p95 | p99 | max | p50 / p99 vs raw |",
    "|---|---|---|---|---|---|---|",
    row("ShipmentRequested → decision (ShipmentCleared) stored", r.requestToDecision),
    row("QualityHoldPlaced → ShipmentBlocked stored", r.holdToBlocked),
    row("QualityHoldReleased → ShipmentCleared stored", r.releaseToCleared),
    row("API: POST /quality/holds → ShipmentBlocked stored", r.apiHoldToBlocked),
    row("API: POST …/decision (release) → ShipmentCleared stored", r.apiReleaseToCleared),
    row("raw client: JetStream publish → ordered consumer (one hop)", r.raw),
    "",
    `hold placed → shipment blocked p99 ${f(r.holdToBlocked.p99)} ms (event), ${f(r.apiHoldToBlocked.p99)} ms (API): the goal (p99 < 1 s) is ${goal}`,
  ].join("\n");
}
