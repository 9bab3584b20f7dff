/**
 * Payload growth: the catalog's largest events at ten times their usual size still flow through the
 * declared streams — published with the SDK, stored under the streams' declared message limits,
 * consumed and decoded whole — and an event beyond a stream's limit is refused with an error that
 * names the limit, never stored cut or lost in silence.
 *
 * Usual sizes, as Threadline makes them: a TelemetrySampled batch carries one machine's 20 tags for
 * a second, 10 samples each (5.2 KB in the bridge bench); a ProductionOrderReleased carries its bill of
 * materials, 20 components for a large one. Ten times: 200 tags × 10 samples, 200 components.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec, type EventPayloads } from "../../contracts/src/index.js";
import { EMPTY_SAMPLE_FIELDS } from "../../services/machine-bridge/src/values.js";
import {
  applyPlan,
  createEventConsumer,
  EventPublisher,
  planChanges,
  serverFacts,
} from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const TELEMETRY = "mfg.machine.telemetry_sampled.v1";
const RELEASED = "mfg.production.production_order_released.v1";
const equipment = { site: "lyon", area: null, line: "line-1", cell: null, machine: "filler-1" };

function telemetry(tags: number, samplesPerTag: number): EventPayloads[typeof TELEMETRY] {
  const at = Date.parse("2026-12-05T08:00:00Z");
  return {
    equipment,
    samples: Array.from({ length: tags * samplesPerTag }, (_, i) => ({
      tag: `ns=2;s=Line1.Filler1.Sensor${String(i % tags).padStart(3, "0")}.Value`,
      value: 20 + (i % 97) / 10,
      quality: "GOOD" as const,
      sourceTime: new Date(at + Math.floor(i / tags) * 100),
      dataType: "DOUBLE" as const,
      ...EMPTY_SAMPLE_FIELDS,
    })),
  };
}

function released(components: number): EventPayloads[typeof RELEASED] {
  return {
    orderRef: "WH/MO/04711",
    odooOrderId: 4711n,
    product: { code: "FIN-SB20", name: "Sparkling bottle 20 cl, crate of 24", odooId: 17n },
    quantity: { value: "12000", uom: "Units" },
    plannedStartAt: new Date("2026-12-05T06:00:00Z"),
    plannedEndAt: new Date("2026-12-05T14:00:00Z"),
    equipment,
    workCenterCode: "L1-FILL",
    lotToProduce: "LOT-2026-1205-A",
    components: Array.from({ length: components }, (_, i) => ({
      product: {
        code: `RAW-${String(i).padStart(4, "0")}`,
        name: `Component number ${i} of the bill`,
        odooId: BigInt(1000 + i),
      },
      quantity: { value: "12000.000", uom: "Units" },
      lot: `LOT-RAW-${i}`,
    })),
    origin: "SO/2026/1205",
    materials: null,
    releasedAt: new Date("2026-12-05T05:00:00Z"),
  };
}

test("the largest events at ten times their usual size are published, stored and consumed whole; beyond a stream's limit they are refused naming it", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  const decls = platformDeclarations({ profile: "local" });
  await applyPlan(jsm, await planChanges(jsm, decls, serverFacts(nc)), { force: false });
  const codec = new EventCodec();
  const publisher = new EventPublisher(jetstream(nc), codec, {
    service: "growth",
    site: "lyon",
    metrics: new Registry(),
  });

  const usual = codec.encode(TELEMETRY, telemetry(20, 10)).length;
  const big = { [TELEMETRY]: telemetry(200, 10), [RELEASED]: released(200) } as const;
  const sizes = {
    [TELEMETRY]: codec.encode(TELEMETRY, big[TELEMETRY]).length,
    [RELEASED]: codec.encode(RELEASED, big[RELEASED]).length,
  };
  assert.ok(sizes[TELEMETRY] >= 9 * usual, `${sizes[TELEMETRY]} bytes against ${usual} usually`);
  for (const [type, stream] of [
    [TELEMETRY, "MFG_MACHINE"],
    [RELEASED, "MFG_PRODUCTION"],
  ] as const) {
    const limit = decls.streams[stream]?.maxMsgSize ?? 0;
    assert.ok(sizes[type] < limit, `${type}: ${sizes[type]} bytes within ${stream}'s ${limit}`);
    await jsm.consumers.add(stream, {
      durable_name: `growth-${stream.toLowerCase()}`,
      filter_subject: `mfg.${type.split(".")[1]}.${type.split(".")[2]}.>`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
    });
  }

  await publisher.publish(TELEMETRY, big[TELEMETRY], {
    site: "lyon",
    line: "line-1",
    machine: "filler-1",
    key: "line-1.filler-1",
  });
  await publisher.publish(RELEASED, big[RELEASED], { site: "lyon", line: "line-1", key: "WH/MO/04711" });

  const received: Record<string, unknown> = {};
  for (const stream of ["MFG_MACHINE", "MFG_PRODUCTION"]) {
    const consumer = createEventConsumer(nc, {
      stream,
      durable: `growth-${stream.toLowerCase()}`,
      codec,
      metrics: new Registry(),
      handlers: {
        [TELEMETRY]: async (e) => {
          received[TELEMETRY] = e.value;
        },
        [RELEASED]: async (e) => {
          received[RELEASED] = e.value;
        },
      },
    });
    await consumer.start();
    t.after(() => consumer.stop({ timeoutMs: 1_000 }));
  }
  await until("both events consumed", () => Object.keys(received).length === 2);
  const samples = (received[TELEMETRY] as EventPayloads[typeof TELEMETRY]).samples;
  assert.equal(samples.length, 2_000);
  assert.equal(samples[1_999]?.tag, big[TELEMETRY].samples[1_999]?.tag);
  assert.equal((received[RELEASED] as EventPayloads[typeof RELEASED]).components.length, 200);

  // Beyond MFG_MACHINE's declared 512 KiB, and beyond the server's max_payload (1 MiB): refused, the
  // limit named, nothing stored.
  const before = (await jsm.streams.info("MFG_MACHINE")).state.messages;
  const limit = decls.streams["MFG_MACHINE"]?.maxMsgSize ?? 0;
  for (const [tooBig, names] of [
    [
      telemetry(400, 30),
      /api_10054: .* \(the event is \d+ bytes: over the stream's max_msg_size; a retry cannot help/,
    ],
    [
      telemetry(500, 40),
      /too_large: .* \(the event is \d+ bytes: over the server's max_payload; a retry cannot help/,
    ],
  ] as const) {
    const size = codec.encode(TELEMETRY, tooBig).length;
    assert.ok(size > limit, `${size} bytes`);
    await assert.rejects(
      publisher.publish(TELEMETRY, tooBig, {
        site: "lyon",
        line: "line-1",
        machine: "filler-1",
        key: "line-1.filler-1",
      }),
      (e: Error) => {
        t.diagnostic(`${size} bytes: ${e.message}`);
        assert.match(e.message, names);
        return true;
      },
    );
  }
  assert.equal((await jsm.streams.info("MFG_MACHINE")).state.messages, before);
});
