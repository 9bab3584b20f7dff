import assert from "node:assert/strict";
import { test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { EventCodec } from "../../contracts/src/codec.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import {
  ORDER_PROGRESS_BUCKET,
  type OrderProgress,
  startOrderProgress,
} from "../../streams/examples/order-progress.js";
import { readDeadLetter } from "../../streams/src/dead-letter.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const SITE = "plant1";
const equipment = { site: SITE, area: null, line: "line1", cell: null, machine: "filler1" };
const units = (value: string) => ({ value, uom: "Units" });

test("the example consumer from the guide tracks order progress exactly once, converts a report counted in two units of one category, and dead-letters one in kg naming both units", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  await jsm.consumers.add("MFG_PRODUCTION", {
    durable_name: "order-progress",
    ack_policy: AckPolicy.Explicit,
    max_deliver: 5,
  });

  const service = await startOrderProgress({
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
  });
  t.after(() => service.stop());
  const ready = await fetch(`${service.url}/readyz`);
  assert.equal(ready.status, 200);

  const registry = await SchemaRegistry.open(nc);
  const publisher = new EventPublisher(jetstream(nc), new EventCodec({ writers: registry }), {
    service: "test",
    site: SITE,
  });
  const order = "WH/MO/00042";
  await publisher.publish(
    "mfg.production.production_order_released.v1",
    {
      orderRef: order,
      odooOrderId: 42n,
      product: { code: "JAM-370", name: null, odooId: null },
      quantity: units("1000"),
      plannedStartAt: new Date(),
      plannedEndAt: null,
      equipment: { ...equipment, machine: null },
      workCenterCode: null,
      lotToProduce: null,
      components: [],
      origin: null,
      releasedAt: new Date(),
    },
    { site: SITE, key: order },
  );
  const report = (good: string, reject: string | { value: string; uom: string }, from: bigint, id?: string) =>
    publisher.publish(
      "mfg.production.production_reported.v1",
      {
        equipment,
        orderRef: order,
        lot: null,
        goodQuantity: units(good),
        rejectQuantity: typeof reject === "string" ? units(reject) : reject,
        goodCounterFrom: from,
        goodCounterTo: from + 10n,
        rejectCounterFrom: 0n,
        rejectCounterTo: 0n,
        periodStartAt: new Date(),
        reportedAt: new Date(),
        countingPoint: true,
        rejectedComponent: null,
        running: [],
      },
      { site: SITE, line: "line1", machine: "filler1", key: order, ...(id ? { id } : {}) },
    );
  const first = await report("400.5", "3", 0n);
  await report("99.5", "1", 10n);
  // Good jars counted in Units, rejects in Dozens: half a Dozen is 6 Units on the order.
  await report("12", { value: "0.5", uom: "Dozens" }, 20n);
  // The same event replayed under a new stream sequence (as after an ops replay): applied once.
  const stored = await jsm.streams.getMessage("MFG_PRODUCTION", { seq: first.ack.seq });
  assert.ok(stored);
  // A new Nats-Msg-Id, so the server's duplicate window lets the copy in, as a replay tool would.
  stored.header.set("Nats-Msg-Id", `replay-${first.envelope.id}`);
  await jetstream(nc).publish(first.subject, stored.data, { headers: stored.header });
  const malformed = await publisher.publish(
    "mfg.production.production_reported.v1",
    {
      equipment,
      orderRef: order,
      lot: null,
      goodQuantity: units("5"),
      rejectQuantity: { value: "1", uom: "kg" },
      goodCounterFrom: 20n,
      goodCounterTo: 25n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 1n,
      periodStartAt: new Date(),
      reportedAt: new Date(),
      countingPoint: true,
      rejectedComponent: null,
      running: [],
    },
    { site: SITE, key: order },
  );

  const kv = await new Kvm(nc).open(ORDER_PROGRESS_BUCKET);
  const progress = await until("the order's progress", async () => {
    const e = await kv.get("WH/MO/00042");
    const p = e?.json<OrderProgress>();
    return p && p.good === "512.000000" ? p : undefined;
  });
  assert.equal(progress.planned, "1000.000000");
  assert.equal(progress.reject, "10.000000");
  assert.equal(progress.uom, "Units");
  assert.equal(progress.applied.length, 4);

  const dlq = await until("the dead letter", async () => {
    const m = await jsm.streams
      .getMessage("MFG_DLQ", { last_by_subj: "mfg.dlq.MFG_PRODUCTION.order-progress" })
      .catch(() => undefined);
    return m ?? undefined;
  });
  const letter = readDeadLetter(dlq);
  assert.equal(letter.code, "UOM_CATEGORY_MISMATCH");
  assert.match(letter.message ?? "", /cannot convert kg \(Weight\) to Units \(Unit\)/);
  assert.equal(letter.sequence, malformed.ack.seq);
  assert.equal(letter.headers.get("ce-id"), malformed.envelope.id);

  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  assert.match(metrics, /threadline_dead_lettered_total\{[^}]*reason="UOM_CATEGORY_MISMATCH"[^}]*\} 1/);
  await service.stop();
});
