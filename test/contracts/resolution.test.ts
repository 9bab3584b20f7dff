import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Catalog, contractFromText } from "../../contracts/src/catalog.js";
import { EventCodec } from "../../contracts/src/codec.js";
import { SchemaUnresolvableError } from "../../contracts/src/errors.js";
import { SchemaRegistry } from "../../contracts/src/registry.js";
import { readMessages } from "../../streams/src/read.js";
import { withJetStream } from "../harness/nats.js";

const FILE = "test/OvenCycle.v1.avsc";
const EVENT = "mfg.test.oven_cycle.v1";

const base = [
  { name: "oven", type: "string", doc: "Oven id." },
  { name: "tempC", type: "double", doc: "Peak temperature." },
];
const statusV = (symbols: string[]) => ({
  name: "status",
  type: { type: "enum", name: "CycleStatus", symbols, default: "UNKNOWN", doc: "Outcome." },
  default: "UNKNOWN",
  doc: "Outcome.",
});
const record = (fields: unknown[]) =>
  JSON.stringify({
    type: "record",
    name: "OvenCycle",
    namespace: "mfg.test",
    doc: "An oven cycle ended.",
    fields,
  });

/** N-1: the first version. N: adds `operator` (with default) and a status. N+1: adds `recipe` and a status symbol. */
const versions = {
  previous: record([...base]),
  current: record([
    ...base,
    { name: "operator", type: ["null", "string"], default: null, doc: "Who ran it." },
    statusV(["UNKNOWN", "OK", "SCRAP"]),
  ]),
  next: record([
    ...base,
    { name: "operator", type: ["null", "string"], default: null, doc: "Who ran it." },
    statusV(["UNKNOWN", "OK", "SCRAP", "REWORK"]),
    { name: "recipe", type: "string", default: "standard", doc: "Recipe." },
  ]),
};

const codecFor = (text: string, registry?: SchemaRegistry) =>
  new EventCodec({
    catalog: new Catalog([contractFromText(FILE, text)]),
    ...(registry ? { writers: registry } : {}),
  });

describe("schema resolution - end to end through JetStream", () => {
  test("a reader built on version N decodes events written with N-1 and N+1", async (t) => {
    const { nc, js, jsm } = await withJetStream(t);
    const registry = await SchemaRegistry.open(nc);
    for (const text of [versions.previous, versions.current, versions.next]) {
      await registry.register(EVENT, text);
    }
    await jsm.streams.add({ name: "RESOLUTION", subjects: ["mfg.test.>"] });

    const old = codecFor(versions.previous);
    const newer = codecFor(versions.next);
    await js.publish("mfg.test.oven_cycle.s1", old.encode(EVENT, { oven: "O-1", tempC: 181.5 }));
    await js.publish(
      "mfg.test.oven_cycle.s1",
      newer.encode(EVENT, { oven: "O-2", tempC: 190, operator: "ana", status: "REWORK", recipe: "hot" }),
    );
    await js.publish(
      "mfg.test.oven_cycle.s1",
      codecFor(versions.current).encode(EVENT, { oven: "O-3", tempC: 175, operator: null, status: "OK" }),
    );

    const reader = codecFor(versions.current, registry);
    const seen: unknown[] = [];
    const writers: (number | undefined)[] = [];
    // Bare single-object bodies, no CloudEvents headers: read raw, decoded as EVENT.
    for await (const m of readMessages(nc, { stream: "RESOLUTION" })) {
      const decoded = await reader.decode(m.data, { as: EVENT });
      seen.push({ ...(decoded.value as object) });
      writers.push(decoded.writer.version);
    }
    assert.deepEqual(writers, [1, 3, 2]);
    assert.deepEqual(seen, [
      // N-1 lacks operator and status: the reader's defaults fill them.
      { oven: "O-1", tempC: 181.5, operator: null, status: "UNKNOWN" },
      // N+1's unknown enum symbol falls back to the reader enum's default; `recipe` is dropped.
      { oven: "O-2", tempC: 190, operator: "ana", status: "UNKNOWN" },
      { oven: "O-3", tempC: 175, operator: null, status: "OK" },
    ]);
  });

  test("an event a reader cannot resolve is refused naming the writer version, the field and the rule", async (t) => {
    const { nc } = await withJetStream(t);
    const registry = await SchemaRegistry.open(nc);
    // The default mode refuses dropping a required field; a subject set to BACKWARD lets it through.
    await registry.register(EVENT, versions.current);
    const dropped = record([base[0], ...JSON.parse(versions.current).fields.slice(2)]);
    await assert.rejects(registry.register(EVENT, dropped), /tempC[\s\S]*READER_FIELD_MISSING_DEFAULT/);
    await registry.setCompatibility(EVENT, "BACKWARD");
    await registry.register(EVENT, dropped);
    const bytes = codecFor(dropped).encode(EVENT, { oven: "O-4", operator: null, status: "OK" });
    await assert.rejects(
      codecFor(versions.current, registry).decode(bytes, { as: EVENT }),
      (err: unknown) => {
        assert.ok(err instanceof SchemaUnresolvableError);
        assert.equal(err.code, "SCHEMA_UNRESOLVABLE");
        assert.match(err.message, /written with mfg\.test\.oven_cycle\.v1 version 2/);
        assert.match(
          err.message,
          /field OvenCycle\.tempC has no default and is missing from the writer \(READER_FIELD_MISSING_DEFAULT\)/,
        );
        assert.deepEqual(
          err.problems.map((p) => [p.path, p.rule]),
          [["OvenCycle.tempC", "READER_FIELD_MISSING_DEFAULT"]],
        );
        return true;
      },
    );
  });
});
