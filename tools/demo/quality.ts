/**
 * The demo's quality: the quality service runs beside the genealogy builder, charting the temperature
 * of the filler on line-1, which the demo's plant makes drift (./plant.ts `drift`). The drift is an SPC
 * violation; the hold policy holds the lot the line was making, and through the genealogy what was made
 * from it. When a warehouse user then prepares a delivery of that lot in Odoo, the shipment gate blocks
 * it: the connector puts a quality check to do on the picking and Odoo refuses to validate it. A quality
 * engineer releases the hold with a comment through the quality API (as `threadline quality release`
 * does); the gate clears the delivery, the connector passes the check, and the jars can leave.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec, EventPayloads } from "../../contracts/src/index.js";
import { startService as startQualityService } from "../../services/quality-service/src/main.js";
import { tokenDigest } from "../../services/quality-service/src/users.js";
import { fromHeaders, type RunningService } from "../../streams/src/index.js";
import { type PreparedDelivery, shipDelivery } from "../sim/odoo/scenarios.js";
import type { SimEnv } from "../sim/odoo/server.js";
import { DEMO_PLANT } from "../sim/plant/demo-plant.js";
import type { PlantDrift } from "./plant.js";

const SITE = "plant-lyon";
const LINE = "line-1";
/** The tag the demo makes drift: the filler's temperature, 3 °C a minute of plant time (7.5 σ). */
export const QUALITY_DRIFT: PlantDrift = { machine: "filler-1", tag: "temperature", perHour: 180 };
/** Who releases the hold through the API. */
const ENGINEER = "quality-engineer";
const RELEASE_COMMENT =
  "Retained jars re-tested in the lab: fill temperature effect within spec; filler-1 heater recalibrated";
const WAIT_MS = 30_000;

type Payload<K extends keyof EventPayloads> = EventPayloads[K];

interface ShipmentView {
  readonly odooPickingId: string;
  readonly pickingRef: string;
  readonly state: "cleared" | "blocked" | "failclosed";
  readonly holds: readonly string[];
}

export interface QualityDemo {
  readonly url: string;
  /** The API's bearer token of the demo's quality engineer (printed only by `--hold`'s description). */
  readonly token: string;
  /**
   * Before `delivery` ships: shows the gate's decision in Odoo (the check to do, the validation Odoo
   * refuses), releases the holds blocking it through the API and waits until the check is passed.
   */
  gate(sim: { env: SimEnv; version: number }, delivery: PreparedDelivery): Promise<void>;
  describe(): string[];
  stop(): Promise<void>;
}

/** The drifting tag's mean and standard deviation in the demo plant: the chart's configured limits. */
function driftingTag(): { mean: number; sd: number; unit: string } {
  for (const site of DEMO_PLANT.sites ?? [])
    for (const line of site.lines)
      for (const m of line.machines)
        if (m.id === QUALITY_DRIFT.machine)
          for (const t of m.telemetry ?? [])
            if (t.name === QUALITY_DRIFT.tag) return { mean: t.mean, sd: t.sd ?? 1, unit: t.unit ?? "" };
  throw new RangeError(`the demo plant has no ${QUALITY_DRIFT.tag} on ${QUALITY_DRIFT.machine}`);
}

export async function startQualityDemo(options: {
  nc: NatsConnection;
  natsUrl: string;
  codec: EventCodec;
  print: (line: string) => void;
  genealogy: { url: string; token: string };
}): Promise<QualityDemo> {
  const { nc, codec, print } = options;
  const dir = mkdtempSync(join(tmpdir(), "threadline-demo-quality-"));
  const token = randomBytes(24).toString("hex");
  const tag = driftingTag();
  const characteristic = `${QUALITY_DRIFT.machine}-${QUALITY_DRIFT.tag}`;
  writeFileSync(
    join(dir, "users.json"),
    JSON.stringify({
      users: [{ name: ENGINEER, tokenSha256: tokenDigest(token), roles: ["hold", "release"] }],
    }),
  );
  writeFileSync(
    join(dir, "plan.json"),
    JSON.stringify({
      characteristics: [
        {
          id: characteristic,
          source: "telemetry",
          equipment: { site: SITE, line: LINE, machine: QUALITY_DRIFT.machine },
          tag: QUALITY_DRIFT.tag,
          limits: { mean: tag.mean, sigma: tag.sd },
          rules: [1],
        },
      ],
      holdPolicy: { spc: { rules: "any", scope: { forward: true } } },
    }),
  );
  let service: RunningService;
  try {
    service = await startQualityService({
      NATS_URL: options.natsUrl,
      SITE,
      QUALITY_USERS_FILE: join(dir, "users.json"),
      QUALITY_CONFIG: join(dir, "plan.json"),
      GENEALOGY_URL: options.genealogy.url,
      GENEALOGY_API_TOKEN: options.genealogy.token,
      QUALITY_GATE_RECHECK_MS: "1000",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const limits = `${tag.mean} ± 3 × ${tag.sd} ${tag.unit}`;
  print(
    `quality service: running (${service.url}/quality), charting ${QUALITY_DRIFT.tag} of ${QUALITY_DRIFT.machine} on ${LINE} (limits ${limits}, Nelson rule 1); holds follow the genealogy`,
  );
  const taps = await tapQuality(nc, codec, print);

  const api = async <T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`quality API ${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`the demo did not see ${what} within ${WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const shipment = async (picking: number) =>
    (await api<{ shipments: ShipmentView[] }>("GET", "/quality/shipments")).shipments.find(
      (s) => s.odooPickingId === String(picking),
    );

  return {
    url: service.url,
    token,
    async gate(sim, delivery) {
      // What the drift held, as `threadline quality holds` lists it.
      const { holds } = await api<{
        holds: { holdId: string; lot: string; product: { code: string }; placedBy: string; reason: string }[];
      }>("GET", "/quality/holds");
      print(`threadline quality holds: ${holds.length} active`);
      for (const h of holds)
        print(`  ${h.holdId}  ${h.product.code} ${h.lot}  by ${h.placedBy}: ${h.reason.split(" — ")[0]}`);
      const judged = await until(`the gate's decision on ${delivery.name}`, async () =>
        shipment(delivery.picking),
      );
      if (judged.state === "cleared") {
        print(`  the shipment gate cleared ${delivery.name}: no hold on its lots (the drift held nothing)`);
        return;
      }
      // The connector's quality checks on the picking: Odoo's own way of saying "not yet".
      const checks = (env: SimEnv) =>
        env.searchRead(
          "quality.check",
          [["picking_id", "=", delivery.picking]],
          ["name", "title", "quality_state"],
        );
      const todo = await until(`a quality check on ${delivery.name}`, async () => {
        const rows = await checks(sim.env);
        return rows.some((c) => c["quality_state"] === "none") ? rows : undefined;
      });
      for (const c of todo)
        print(`  Odoo: ${delivery.name} has quality check ${c["name"]} to do: ${c["title"]}`);
      try {
        await shipDelivery(sim.env, sim.version, delivery);
      } catch (err) {
        const wizard = /quality\.check\.wizard/.test((err as Error).message);
        print(
          `  Odoo: validating ${delivery.name} is refused: ${wizard ? "the quality check wizard opens instead" : (err as Error).message}`,
        );
      }
      const [state] = await sim.env.read("stock.picking", [delivery.picking], ["state"]);
      if (state?.["state"] === "done")
        throw new Error(`Odoo validated ${delivery.name} while it was on hold`);
      for (const holdId of judged.holds) {
        print(
          `quality API, as \`threadline quality release\` does: POST /quality/holds/${holdId}/decision {"disposition":"release","comment":"${RELEASE_COMMENT}"}`,
        );
        const decided = await api<{ holdId: string; status: string; lot: string }>(
          "POST",
          `/quality/holds/${encodeURIComponent(holdId)}/decision`,
          { disposition: "release", comment: RELEASE_COMMENT },
        );
        print(`  hold ${decided.holdId} on lot ${decided.lot}: ${decided.status} by ${ENGINEER}`);
      }
      await until(`${delivery.name} cleared`, async () =>
        (await shipment(delivery.picking))?.state === "cleared" ? true : undefined,
      );
      const passed = await until(`the quality checks of ${delivery.name} passed`, async () => {
        const rows = await checks(sim.env);
        return rows.every((c) => c["quality_state"] !== "none") ? rows : undefined;
      });
      print(
        `  Odoo: quality check ${passed.map((c) => `${c["name"]} ${c["quality_state"] === "pass" ? "passed" : c["quality_state"]}`).join(", ")} (the connector, on ShipmentCleared): ${delivery.name} may ship`,
      );
    },
    describe: () => [
      `quality service: ${service.url}/quality/holds?status=all, /quality/shipments (Authorization: Bearer ${token}, user ${ENGINEER}: hold, release)`,
    ],
    async stop() {
      for (const t of taps) await t.close().catch(() => undefined);
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The quality and shipping events as they land, one line each. */
async function tapQuality(
  nc: NatsConnection,
  codec: EventCodec,
  print: (line: string) => void,
): Promise<{ close(): Promise<void> }[]> {
  const js = jetstream(nc);
  const taps: { close(): Promise<void> }[] = [];
  for (const [stream, filter] of [
    ["MFG_QUALITY", "mfg.quality.>"],
    ["MFG_SHIPPING", "mfg.shipping.>"],
  ] as const) {
    const consumer = await js.consumers.get(stream, {
      filter_subjects: filter,
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    taps.push({ close: async () => void (await messages.close()) });
    void (async () => {
      for await (const m of messages) {
        try {
          const type = fromHeaders(m.headers).type;
          const text = describe(type, (await codec.decode(m.data, { as: type })).value);
          if (text) print(`  ${stream} #${m.seq}  ${text}`);
        } catch (err) {
          print(`  ${stream} #${m.seq}  cannot be read: ${(err as Error).message}`);
        }
      }
    })();
  }
  return taps;
}

function describe(type: string, value: unknown): string | undefined {
  const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
  switch (type) {
    case "mfg.quality.spc_violation_detected.v1": {
      const e = value as Payload<"mfg.quality.spc_violation_detected.v1">;
      const last = e.points.at(-1);
      return `SpcViolationDetected ${e.characteristic} on ${e.equipment.line}/${e.equipment.machine}: ${e.ruleDescription} (${e.ruleSet} ${e.ruleNumber}), ${last ? `${num(last.value)} ` : ""}outside ${num(e.lowerControlLimit)}..${num(e.upperControlLimit)}`;
    }
    case "mfg.quality.spc_violation_ended.v1": {
      const e = value as Payload<"mfg.quality.spc_violation_ended.v1">;
      return `SpcViolationEnded ${e.characteristic} on ${e.equipment.line}/${e.equipment.machine} (${e.ruleSet} ${e.ruleNumber}) after ${e.pointsInEpisode} points`;
    }
    case "mfg.quality.quality_hold_placed.v1": {
      const e = value as Payload<"mfg.quality.quality_hold_placed.v1">;
      return `QualityHoldPlaced ${e.holdId} on ${e.product.code} lot ${e.lot} by ${e.placedBy}: ${e.reason}`;
    }
    case "mfg.quality.quality_hold_released.v1": {
      const e = value as Payload<"mfg.quality.quality_hold_released.v1">;
      return `QualityHoldReleased ${e.holdId} on ${e.product.code} lot ${e.lot} (${e.status} by ${e.releasedBy}): ${e.reason}`;
    }
    case "mfg.shipping.shipment_requested.v1": {
      const e = value as Payload<"mfg.shipping.shipment_requested.v1">;
      return `ShipmentRequested ${e.pickingRef} to ${e.customerName ?? e.customerRef}: ${e.lines.map((l) => `${Number(l.quantity.value)} ${l.product.code}${l.lot ? ` lot ${l.lot}` : ""}`).join(", ")}`;
    }
    case "mfg.shipping.shipment_blocked.v1": {
      const e = value as Payload<"mfg.shipping.shipment_blocked.v1">;
      return `ShipmentBlocked ${e.pickingRef}: ${e.blockedLots.map((l) => `lot ${l.lot} on hold ${l.holdIds.join(", ")}`).join("; ")}`;
    }
    case "mfg.shipping.shipment_cleared.v1": {
      const e = value as Payload<"mfg.shipping.shipment_cleared.v1">;
      return `ShipmentCleared ${e.pickingRef} (lots ${e.lots.join(", ")}${e.wasBlocked ? ", blocked before" : ""})`;
    }
    default:
      return undefined;
  }
}
