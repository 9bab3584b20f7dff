/**
 * The quality service as its tests run it: a real nats-server with the platform's declarations, the
 * genealogy's real routes over the story database (harness/genealogy.ts: RAW-1 LOT/2026/001 → INT-1
 * INT-001 → FG-1 FG-001) listening on a port — and able to go down on demand —, a users file with a
 * lab system, a quality engineer and a viewer, a plan, and the service itself.
 *
 * `startQualityFixture(t)` disposes of everything after the test `t`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventInputs, EventType } from "../../contracts/src/index.js";
import { EventCodec } from "../../contracts/src/index.js";
import { startService } from "../../services/quality-service/src/main.js";
import { QUALITY_DURABLES } from "../../services/quality-service/src/manifest.js";
import { tokenDigest } from "../../services/quality-service/src/users.js";
import {
  applyPlan,
  EventPublisher,
  planChanges,
  type RunningService,
  serverFacts,
} from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { TOKEN as GENEALOGY_TOKEN, genealogyServer, SITE } from "./genealogy.js";
import { connectTo, type LocalNatsServer, startTestServer } from "./nats.js";
import { until } from "./wait.js";

export { SITE };

/** The API's users: their tokens (the users file holds only the digests). */
export const USERS = {
  lab: { token: "lab-token-0123456789abcdef", roles: ["inspect"] },
  alice: { token: "alice-token-0123456789abcdef", roles: ["hold", "release"] },
  viewer: { token: "viewer-token-0123456789abcdef", roles: ["read"] },
} as const;

/** The default plan: a press force chart on line-1, the bore of the brake disc with its specification. */
export const PLAN = {
  characteristics: [
    {
      id: "press-force",
      source: "telemetry",
      equipment: { site: SITE, line: "line-1", machine: "press-1" },
      tag: "force",
      limits: { mean: 100, sigma: 1 },
      rules: [1, 2],
    },
    {
      id: "disc-bore",
      source: "inspection",
      product: "FG-1",
      characteristic: "bore",
      spec: { lower: 11.95, upper: 12.05, unit: "mm" },
      limits: { mean: 12, sigma: 0.01 },
    },
  ],
  holdPolicy: {
    spc: { scope: { forward: true } },
    nonconformance: { minSeverity: "MAJOR", scope: { forward: true } },
  },
};

/** The brake disc of the story, as Odoo names it. */
export const DISC = { code: "FG-1", name: "Brake disc", odooId: 31n };
const units = (value: string) => ({ value, uom: "Units" });

/** Odoo asks to ship 10 discs of `lot` on a delivery. */
export function shipmentRequested(
  pickingRef: string,
  pickingId: bigint,
  lot: string,
): EventInputs["mfg.shipping.shipment_requested.v1"] {
  return {
    pickingRef,
    odooPickingId: pickingId,
    site: SITE,
    customerRef: "C-100",
    customerName: "Acme Brakes",
    salesOrderRef: "S00042",
    lines: [{ product: DISC, lot, quantity: units("10") }],
    scheduledAt: null,
    requestedAt: new Date(),
  };
}

/** Odoo posts the delivery: 10 discs of `lot` leave for the customer. */
export function deliveryPosted(
  pickingRef: string,
  pickingId: bigint,
  lot: string,
): EventInputs["mfg.inventory.goods_movement_posted.v1"] {
  return {
    site: SITE,
    movementType: "DELIVERY",
    pickingRef,
    odooPickingId: pickingId,
    odooMoveId: 9000n + pickingId,
    odooMoveLineId: 19000n + pickingId,
    product: DISC,
    lot,
    quantity: units("10"),
    fromLocation: "WH/Stock",
    toLocation: "Partners/Customers",
    origin: "S00042",
    postedAt: new Date(),
    orderRef: null,
  };
}

export interface QualityFixture {
  readonly server: LocalNatsServer;
  readonly nc: NatsConnection;
  readonly service: () => RunningService;
  readonly env: Record<string, string>;
  /** The genealogy answers 503 while this is true. */
  genealogyDown: boolean;
  /** Publishes an event as a plant system would (a connector, the bridge). */
  publish<K extends EventType>(
    type: K,
    payload: EventInputs[K],
    target: { key: string; id?: string; line?: string; machine?: string },
  ): Promise<string>;
  /** Calls the API as a user (or without a token). */
  api(
    method: "GET" | "POST",
    path: string,
    user?: keyof typeof USERS,
    body?: unknown,
  ): Promise<{ status: number; body: any }>;
  restart(extraEnv?: Record<string, string>): Promise<void>;
}

export async function startQualityFixture(
  t: TestContext,
  options: { plan?: unknown; env?: Record<string, string> } = {},
): Promise<QualityFixture> {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const dir = mkdtempSync(join(tmpdir(), "threadline-quality-"));
  const usersFile = join(dir, "users.json");
  writeFileSync(
    usersFile,
    JSON.stringify({
      users: Object.entries(USERS).map(([name, u]) => ({
        name,
        tokenSha256: tokenDigest(u.token),
        roles: u.roles,
      })),
    }),
  );
  const planFile = join(dir, "plan.json");
  writeFileSync(planFile, JSON.stringify(options.plan ?? PLAN));

  const fixture = { genealogyDown: false } as { genealogyDown: boolean };
  const genealogy = await genealogyServer({ down: () => fixture.genealogyDown });
  const genealogyUrl = await genealogy.app.listen({ host: "127.0.0.1", port: 0 });

  const env: Record<string, string> = {
    NATS_URL: server.clientUrl,
    SITE,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    QUALITY_USERS_FILE: usersFile,
    QUALITY_CONFIG: planFile,
    GENEALOGY_URL: genealogyUrl,
    GENEALOGY_API_TOKEN: GENEALOGY_TOKEN,
    GENEALOGY_TIMEOUT_MS: "2000",
    QUALITY_GATE_RECHECK_MS: "200",
    DRAIN_TIMEOUT_MS: "2000",
    ...options.env,
  };
  let service = await startService(env);
  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), {
    service: "plant-systems",
    site: SITE,
  });
  t.after(async () => {
    await service.stop().catch(() => undefined);
    await genealogy.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return Object.assign(fixture, {
    server,
    nc,
    env,
    service: () => service,
    async publish<K extends EventType>(
      type: K,
      payload: EventInputs[K],
      target: { key: string; id?: string; line?: string; machine?: string },
    ) {
      const ack = await publisher.publish(type, payload, { site: SITE, ...target });
      return ack.envelope.id;
    },
    async api(method: "GET" | "POST", path: string, user?: keyof typeof USERS, body?: unknown) {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: {
          ...(user ? { authorization: `Bearer ${USERS[user].token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async restart(extraEnv: Record<string, string> = {}) {
      await service.stop();
      service = await startService({ ...env, ...extraEnv });
    },
  });
}

/** Line 1 of the story, as the quality service's events name it. */
export const LINE_1 = { site: SITE, area: null, line: "line-1", cell: null, machine: null };

/**
 * The press's order WH/MO/00001 (INT-001 on line 1) dispatched a minute ago, and read by the service:
 * the line's lot is known before the press's telemetry is judged (a dispatch comes long before in a plant).
 */
export async function dispatchPressLot(f: QualityFixture): Promise<void> {
  await f.publish(
    "mfg.production.order_dispatched.v1",
    {
      orderRef: "WH/MO/00001",
      odooOrderId: 1n,
      equipment: LINE_1,
      lot: "INT-001",
      product: { code: "INT-1", name: null, odooId: 21n },
      quantity: units("100"),
      workCenterCode: "WC-PRESS",
      machines: [],
      dispatchedAt: new Date(Date.now() - 60_000),
    },
    { key: "WH/MO/00001", line: "line-1" },
  );
  const jsm = await jetstreamManager(f.nc);
  await until("the dispatch read", async () => {
    const info = await jsm.consumers.info("MFG_PRODUCTION", QUALITY_DURABLES.production);
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  });
}
