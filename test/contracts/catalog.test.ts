/**
 * The event catalog: every schema loads, DESIGN's v1 events all exist, schemas follow the house rules
 * (docs everywhere, exact decimal quantities, timestamp-millis times, nullable = ["null", T] default null,
 * shared named types identical everywhere), the generated TypeScript types are up to date and match
 * what avsc produces, and random valid payloads of every event round-trip.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import type avro from "avsc";
import fc from "fast-check";
import { Catalog, contractFromText, eventTypeOf } from "../../contracts/src/catalog.js";
import { EventCodec } from "../../contracts/src/codec.js";
import {
  EVENT_TYPES,
  type EventInputs,
  type EventPayloads,
  type EventType,
  PACK_ML_STATE_SYMBOLS,
} from "../../contracts/src/events.generated.js";
import { SCHEMAS_DIR } from "../../contracts/src/paths.js";
import { GENERATED_FILE, generateTypes } from "../../tools/contracts/generate-types.js";
import { arbitraryFor, normalizeValue } from "./arbitraries.js";

/** DESIGN.md "Catalog (v1)": every event listed there, as `<domain>/<EventName>`. */
const DESIGN_V1_EVENTS = [
  "production/ProductionOrderReleased",
  "production/ProductionOrderChanged",
  "production/ProductionOrderCompleted",
  "production/ProductionReported",
  "production/ProductionPosted",
  "machine/MachineStateChanged",
  "machine/DowntimeStarted",
  "machine/DowntimeEnded",
  "machine/TelemetrySampled",
  "machine/ConnectorStatusChanged",
  "inventory/LotRegistered",
  "inventory/MaterialConsumed",
  "inventory/GoodsMovementPosted",
  "quality/InspectionRecorded",
  "quality/SpcViolationDetected",
  "quality/QualityHoldPlaced",
  "quality/QualityHoldReleased",
  "quality/NonconformanceRaised",
  "shipping/ShipmentRequested",
  "shipping/ShipmentBlocked",
  "shipping/ShipmentCleared",
] as const;

const catalog = Catalog.load();
const contracts = catalog.list();

// ---------------------------------------------------------------------------------------------------------
// Schema walking (over the JSON as written, which keeps docs and logical types)

type Json = { readonly [key: string]: unknown };

interface NamedVisit {
  readonly file: string;
  readonly fullname: string;
  readonly json: Json;
  /** The definition with nested named definitions collapsed to their full names: its identity. */
  readonly collapsed: string;
}

interface FieldVisit {
  readonly file: string;
  /** `Record.field`, for messages. */
  readonly where: string;
  readonly name: string;
  readonly json: Json;
}

const PRIMITIVES = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);
const NAMED = new Set(["record", "error", "enum", "fixed"]);

function isJson(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fullNameOf(name: string, namespace: string | undefined): string {
  return name.includes(".") || !namespace ? name : `${namespace}.${name}`;
}

function walk(
  file: string,
  schema: unknown,
  namespace: string | undefined,
  onNamed: (v: NamedVisit) => void,
  onField: (v: FieldVisit) => void,
): unknown {
  if (typeof schema === "string") return PRIMITIVES.has(schema) ? schema : fullNameOf(schema, namespace);
  if (Array.isArray(schema)) return schema.map((s) => walk(file, s, namespace, onNamed, onField));
  if (!isJson(schema)) return schema;
  const type = schema["type"];
  if (typeof type === "string" && NAMED.has(type)) {
    const fullname = fullNameOf(
      schema["name"] as string,
      (schema["namespace"] as string | undefined) ?? namespace,
    );
    const inner = fullname.includes(".") ? fullname.slice(0, fullname.lastIndexOf(".")) : undefined;
    const collapsed: Record<string, unknown> = { ...schema, name: fullname };
    delete collapsed["namespace"];
    if (Array.isArray(schema["fields"])) {
      collapsed["fields"] = (schema["fields"] as Json[]).map((field) => {
        onField({
          file,
          where: `${fullname}.${String(field["name"])}`,
          name: String(field["name"]),
          json: field,
        });
        return { ...field, type: walk(file, field["type"], inner, onNamed, onField) };
      });
    }
    onNamed({ file, fullname, json: schema, collapsed: JSON.stringify(collapsed) });
    return fullname;
  }
  if (type === "array") return { ...schema, items: walk(file, schema["items"], namespace, onNamed, onField) };
  if (type === "map") return { ...schema, values: walk(file, schema["values"], namespace, onNamed, onField) };
  if (typeof type === "object") return { ...schema, type: walk(file, type, namespace, onNamed, onField) };
  return schema;
}

const named: NamedVisit[] = [];
const fields: FieldVisit[] = [];
for (const c of contracts) {
  walk(
    c.file,
    c.json,
    undefined,
    (v) => named.push(v),
    (v) => fields.push(v),
  );
}

/** The branches of a field type, without "null" (a nullable field is judged by its value type). */
function nonNullBranches(type: unknown): unknown[] {
  return (Array.isArray(type) ? type : [type]).filter((t) => t !== "null");
}

/** Every primitive and logical type name reachable inside a type, following definitions inline in it. */
function leafTypes(type: unknown, byName: Map<string, Json>, seen = new Set<string>()): string[] {
  if (typeof type === "string") {
    if (PRIMITIVES.has(type)) return [type];
    const def = byName.get(type) ?? byName.get([...byName.keys()].find((k) => k.endsWith(`.${type}`)) ?? "");
    if (!def || seen.has(type)) return [];
    seen.add(type);
    return leafTypes(def, byName, seen);
  }
  if (Array.isArray(type)) return type.flatMap((t) => leafTypes(t, byName, seen));
  if (!isJson(type)) return [];
  if (typeof type["logicalType"] === "string") return [`${String(type["type"])}:${type["logicalType"]}`];
  switch (type["type"]) {
    case "record":
    case "error":
      return (type["fields"] as Json[]).flatMap((f) => leafTypes(f["type"], byName, seen));
    case "array":
      return leafTypes(type["items"], byName, seen);
    case "map":
      return leafTypes(type["values"], byName, seen);
    case "enum":
      return ["enum"];
    case "fixed":
      return ["fixed"];
    default:
      return leafTypes(type["type"], byName, seen);
  }
}

const definitionsByName = new Map(named.map((n) => [n.fullname, n.json]));

// ---------------------------------------------------------------------------------------------------------

function listAvsc(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return listAvsc(path);
      return entry.endsWith(".avsc") ? [relative(SCHEMAS_DIR, path).split("\\").join("/")] : [];
    });
}

describe("event catalog", () => {
  it("loads every .avsc file under contracts/schemas", () => {
    const files = listAvsc(SCHEMAS_DIR);
    assert.ok(files.length > 0, "no schema files found");
    assert.deepEqual(contracts.map((c) => c.file).sort(), files);
  });

  it("declares every v1 event of DESIGN.md", () => {
    for (const path of DESIGN_V1_EVENTS) {
      const [domain, name] = path.split("/") as [string, string];
      const contract = catalog.find(eventTypeOf(domain, name, 1));
      assert.ok(contract, `missing event ${path}: add contracts/schemas/${path}.v1.avsc`);
      assert.equal(contract.file, `${path}.v1.avsc`);
    }
  });

  it("names every event record after its file, in namespace mfg.<domain>", () => {
    for (const c of contracts) {
      const json = c.json as Json;
      assert.equal(json["name"], c.name, c.file);
      assert.equal(json["namespace"], `mfg.${c.domain}`, `${c.file}: namespace must be mfg.${c.domain}`);
    }
  });

  it("documents every record, enum, fixed and field", () => {
    const missing = [
      ...named.filter((n) => !nonEmpty(n.json["doc"])).map((n) => `${n.file}: ${n.fullname}`),
      ...fields.filter((f) => !nonEmpty(f.json["doc"])).map((f) => `${f.file}: ${f.where}`),
    ];
    assert.deepEqual(missing, [], `add a "doc" to: ${missing.join(", ")}`);
  });

  it("gives a named type the same definition in every file that declares it", () => {
    const byName = new Map<string, NamedVisit[]>();
    for (const n of named) byName.set(n.fullname, [...(byName.get(n.fullname) ?? []), n]);
    for (const [fullname, visits] of byName) {
      const [first, ...rest] = visits;
      for (const other of rest) {
        assert.equal(
          other.collapsed,
          first?.collapsed,
          `${fullname} differs between ${first?.file} and ${other.file}: shared types must be identical`,
        );
      }
    }
    // The shared records really are shared (the same full name everywhere), not re-invented.
    for (const shared of ["mfg.common.Quantity", "mfg.common.ProductRef", "mfg.common.EquipmentPath"]) {
      assert.ok((byName.get(shared)?.length ?? 0) > 1, `${shared} should be used by several events`);
    }
  });

  it("uses exact decimals, never float/double, for quantity fields", () => {
    for (const f of fields.filter((f) => /qty|quantit/i.test(f.name))) {
      const leaves = leafTypes(f.json["type"], definitionsByName);
      assert.ok(
        !leaves.includes("float") && !leaves.includes("double"),
        `${f.file}: ${f.where} uses a float`,
      );
      assert.ok(leaves.includes("bytes:decimal"), `${f.file}: ${f.where} should hold a decimal`);
    }
  });

  it("makes every decimal bytes decimal(18, 6), or decimal(20, 0) for an unsigned 64-bit integer", () => {
    for (const f of fields) {
      for (const t of nonNullBranches(f.json["type"])) {
        if (isJson(t) && t["logicalType"] === "decimal") {
          // A UInt64 (OPC UA) has no Avro integer type: exact, it is an integer decimal of 20 digits.
          const unsigned = /unsigned/i.test(f.name) && !/qty|quantit/i.test(f.name);
          assert.deepEqual(
            t,
            unsigned
              ? { type: "bytes", logicalType: "decimal", precision: 20, scale: 0 }
              : { type: "bytes", logicalType: "decimal", precision: 18, scale: 6 },
            `${f.file}: ${f.where}`,
          );
        }
      }
    }
  });

  it("makes every *At / *Time field a timestamp-millis, and names every timestamp so", () => {
    const isTimestamp = (t: unknown) =>
      isJson(t) && t["type"] === "long" && t["logicalType"] === "timestamp-millis";
    for (const f of fields) {
      const branches = nonNullBranches(f.json["type"]);
      const timeName = /[a-z](At|Time)$/.test(f.name) || f.name === "at" || f.name === "time";
      if (timeName)
        assert.ok(
          branches.length === 1 && isTimestamp(branches[0]),
          `${f.file}: ${f.where} must be timestamp-millis`,
        );
      if (branches.some(isTimestamp))
        assert.ok(timeName, `${f.file}: ${f.where} is a timestamp: name it *At or *Time`);
    }
  });

  it('writes optional values as ["null", T] with "default": null', () => {
    for (const f of fields) {
      const type = f.json["type"];
      if (Array.isArray(type) && type.includes("null")) {
        assert.equal(type[0], "null", `${f.file}: ${f.where}: null goes first`);
        assert.ok(
          "default" in f.json && f.json["default"] === null,
          `${f.file}: ${f.where} needs "default": null`,
        );
      }
    }
  });

  it("names the 17 PackML states of the ISA-TR88 / OPC UA PackML state model", () => {
    const states = catalog.get("mfg.machine.machine_state_changed.v1").type as avro.types.RecordType;
    const symbols = (states.field("state").type as avro.types.EnumType).symbols;
    assert.deepEqual(symbols, [...PACK_ML_STATE_SYMBOLS]);
    assert.deepEqual(
      symbols.filter((s) => s !== "UNDEFINED").sort(),
      [
        "CLEARING",
        "STOPPED",
        "STARTING",
        "IDLE",
        "SUSPENDED",
        "EXECUTE",
        "STOPPING",
        "ABORTING",
        "ABORTED",
        "HOLDING",
        "HELD",
        "UNHOLDING",
        "SUSPENDING",
        "UNSUSPENDING",
        "RESETTING",
        "COMPLETING",
        "COMPLETE",
      ].sort(),
    );
  });
});

function nonEmpty(v: unknown): boolean {
  return typeof v === "string" && v.trim() !== "";
}

// ---------------------------------------------------------------------------------------------------------
// Generated types

describe("generated event types", () => {
  it("are up to date with the schemas (contracts/src/events.generated.ts)", () => {
    const expected = generateTypes(Catalog.load());
    let committed = "";
    try {
      committed = readFileSync(GENERATED_FILE, "utf8");
    } catch {
      // reported below
    }
    if (committed !== expected) {
      const a = committed.split("\n");
      const b = expected.split("\n");
      const line = a.findIndex((l, i) => l !== b[i]);
      const at = line < 0 ? Math.min(a.length, b.length) : line;
      assert.fail(
        "contracts/src/events.generated.ts is out of date with contracts/schemas: run `npm run contracts:generate` " +
          `(first difference at line ${at + 1}: committed ${JSON.stringify(a[at])}, expected ${JSON.stringify(b[at])})`,
      );
    }
  });

  it("lists every event type of the catalog", () => {
    assert.deepEqual([...EVENT_TYPES], contracts.map((c) => c.eventType).sort());
  });

  it("is deterministic", () => {
    assert.equal(generateTypes(Catalog.load()), generateTypes(new Catalog([...contracts].reverse())));
  });

  it("names a type changed by a new major V<major>, and qualifies simple names shared by two namespaces", () => {
    const qty = (extra: object[]) => ({
      type: "record",
      name: "Quantity",
      namespace: "mfg.common",
      doc: "q",
      fields: [
        { name: "value", doc: "v", type: { type: "bytes", logicalType: "decimal", precision: 18, scale: 6 } },
        ...extra,
      ],
    });
    const event = (name: string, domain: string, fieldsJson: object[]) =>
      JSON.stringify({ type: "record", name, namespace: `mfg.${domain}`, doc: "e", fields: fieldsJson });
    const line = (ns: string) => ({ type: "record", name: "Line", namespace: ns, doc: "l", fields: [] });
    const source = generateTypes(
      new Catalog([
        contractFromText(
          "production/Made.v1.avsc",
          event("Made", "production", [{ name: "q", doc: "d", type: qty([]) }]),
        ),
        contractFromText(
          "production/Made.v2.avsc",
          event("Made", "production", [
            { name: "q", doc: "d", type: qty([{ name: "uom", doc: "u", type: "string" }]) },
          ]),
        ),
        contractFromText(
          "machine/Seen.v1.avsc",
          event("Seen", "machine", [
            { name: "a", doc: "d", type: line("mfg.machine") },
            { name: "b", doc: "d", type: line("mfg.quality") },
            { name: "q", doc: "d", type: ["null", qty([])], default: null },
          ]),
        ),
      ]),
    );
    assert.match(source, /export interface Quantity \{\n[^}]*value: Decimal;\n\}/);
    assert.match(source, /export interface QuantityV2 \{\n[^}]*value: Decimal;\n[^}]*uom: string;\n\}/);
    assert.match(source, /export interface MadeV2 \{\n[^}]*q: QuantityV2;\n\}/);
    assert.match(
      source,
      /export interface Seen \{\n[^}]*a: MachineLine;\n[^}]*b: QualityLine;\n[^}]*q: Quantity \| null;\n\}/,
    );
    assert.match(source, /"mfg\.production\.made\.v1": Made;\n[^}]*"mfg\.production\.made\.v2": MadeV2;/);
  });

  it("give publishers an input type where fields with a default are optional, nested records included; readers get every field", () => {
    const where = {
      type: "record",
      name: "Where",
      namespace: "mfg.common",
      doc: "w",
      fields: [
        { name: "line", doc: "l", type: "string" },
        { name: "cell", doc: "c", type: ["null", "string"], default: null },
      ],
    };
    const source = generateTypes(
      new Catalog([
        contractFromText(
          "production/Made.v1.avsc",
          JSON.stringify({
            type: "record",
            name: "Made",
            namespace: "mfg.production",
            doc: "e",
            fields: [
              { name: "at", doc: "a", type: where },
              { name: "shift", doc: "s", type: ["null", "string"], default: null },
              { name: "count", doc: "n", type: "int" },
            ],
          }),
        ),
      ]),
    );
    assert.match(
      source,
      /export interface Made \{\n[^}]*at: Where;\n[^}]*shift: string \| null;\n[^}]*count: number;\n\}/,
    );
    assert.match(
      source,
      /export interface MadeInput \{\n[^}]*at: WhereInput;\n[^}]*shift\?: string \| null;\n[^}]*count: number;\n\}/,
    );
    assert.match(
      source,
      /export interface WhereInput \{\n[^}]*line: string;\n[^}]*cell\?: string \| null;\n\}/,
    );
    assert.match(source, /export interface EventInputs \{\n {2}"mfg\.production\.made\.v1": MadeInput;\n\}/);
    assert.match(source, /export interface EventPayloads \{\n[^}]*"mfg\.production\.made\.v1": Made;\n\}/);
  });

  it("let a publisher leave out every field with a default (compiled with the project)", () => {
    // Type-checked by the build: were `area`, `cell` or `rejectedComponent` required, this file
    // would not compile.
    const report: EventInputs["mfg.production.production_reported.v1"] = {
      equipment: { site: "lyon", line: "line-1", machine: "filler-1" },
      orderRef: null,
      lot: null,
      goodQuantity: { value: "1", uom: "Units" },
      rejectQuantity: { value: "0", uom: "Units" },
      goodCounterFrom: 0n,
      goodCounterTo: 1n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: new Date(0),
      reportedAt: new Date(1),
      countingPoint: true,
      running: [],
    };
    assert.equal(new EventCodec().encode("mfg.production.production_reported.v1", report).length > 10, true);
  });

  it("refuses a shared type whose shape differs within one major version", () => {
    const event = (name: string, uom: boolean) =>
      JSON.stringify({
        type: "record",
        name,
        namespace: "mfg.production",
        doc: "e",
        fields: [
          {
            name: "q",
            doc: "d",
            type: {
              type: "record",
              name: "Quantity",
              namespace: "mfg.common",
              doc: "q",
              fields: uom ? [{ name: "uom", doc: "u", type: "string" }] : [],
            },
          },
        ],
      });
    assert.throws(
      () =>
        generateTypes(
          new Catalog([
            contractFromText("production/A.v1.avsc", event("A", false)),
            contractFromText("production/B.v1.avsc", event("B", true)),
          ]),
        ),
      /mfg\.common\.Quantity differs from its declaration in contracts\/schemas\/production\/A\.v1\.avsc/,
    );
  });
});

/**
 * Hand-written payloads typed by the generated interfaces: the compiler checks they fit the types (no
 * missing or unknown field, right value kinds), the runtime checks avsc accepts them and decodes them
 * to the same values. Together they cover every kind of value the catalog uses.
 */
/** The typed fields of a telemetry sample, all empty (a sample of the first version's shape). */
const UNTYPED = {
  dataType: null,
  integerValue: null,
  unsignedValue: null,
  booleanValue: null,
  textValue: null,
  locale: null,
  valueTime: null,
  valueNanos: null,
  index: null,
} as const;

const SAMPLES: { readonly [K in EventType]?: EventPayloads[K] } = {
  "mfg.production.production_order_released.v1": {
    orderRef: "WH/MO/00042",
    odooOrderId: 42n,
    product: { code: "BRK-220", name: "Brake disc 220 mm", odooId: 311n },
    quantity: { value: "1200.5", uom: "Units" },
    plannedStartAt: new Date("2025-03-03T06:00:00Z"),
    plannedEndAt: null,
    equipment: { site: "plant-lyon", area: null, line: "line-2", cell: null, machine: null },
    workCenterCode: "WC-CAST",
    lotToProduce: "LOT-2025-0042",
    components: [
      {
        product: { code: "FE-GG25", name: null, odooId: 17n },
        quantity: { value: "4382.000001", uom: "kg" },
        lot: "HEAT-88121",
      },
    ],
    origin: "S00017",
    materials: null,
    releasedAt: new Date("2025-03-01T14:03:12.345Z"),
  },
  "mfg.production.production_reported.v1": {
    equipment: { site: "plant-lyon", area: "casting", line: "line-2", cell: null, machine: "press-07" },
    orderRef: "WH/MO/00042",
    lot: null,
    goodQuantity: { value: "12", uom: "Units" },
    rejectQuantity: { value: "0.000000", uom: "Units" },
    goodCounterFrom: 9_007_199_254_740_990n,
    goodCounterTo: 9_007_199_254_741_002n,
    rejectCounterFrom: 0n,
    rejectCounterTo: 0n,
    periodStartAt: new Date(1_740_985_200_000),
    reportedAt: new Date(1_740_985_260_000),
    countingPoint: true,
    rejectedComponent: null,
    running: [],
  },
  "mfg.machine.machine_state_changed.v1": {
    equipment: { site: "plant-lyon", area: null, line: "line-2", cell: null, machine: "press-07" },
    state: "HELD",
    previousState: "HOLDING",
    mode: "PRODUCTION",
    stopReason: { code: "E-104", text: "Infeed jam" },
    changedAt: new Date(1_740_985_260_123),
  },
  "mfg.machine.telemetry_sampled.v1": {
    equipment: { site: "plant-lyon", area: null, line: "line-2", cell: null, machine: "press-07" },
    samples: [
      {
        ...UNTYPED,
        tag: "spindle.speed",
        value: 1450.25,
        quality: "GOOD",
        sourceTime: new Date(1_740_985_260_000),
      },
      {
        ...UNTYPED,
        tag: "oil.temp",
        value: -0.5,
        quality: "UNCERTAIN",
        sourceTime: new Date(1_740_985_260_500),
      },
      {
        ...UNTYPED,
        tag: "counter.total",
        value: 2 ** 64,
        quality: "GOOD",
        sourceTime: new Date(1_740_985_260_600),
        dataType: "UINT64",
        unsignedValue: "18446744073709551615",
      },
      {
        ...UNTYPED,
        tag: "energy.wh",
        value: -(2 ** 63),
        quality: "GOOD",
        sourceTime: new Date(1_740_985_260_700),
        dataType: "INT64",
        integerValue: -9223372036854775808n,
      },
      {
        ...UNTYPED,
        tag: "batch.started",
        value: Number.NaN,
        quality: "GOOD",
        sourceTime: new Date(1_740_985_260_800),
        dataType: "DATE_TIME",
        valueTime: new Date(1_740_985_000_123),
        valueNanos: 456_700,
      },
      {
        ...UNTYPED,
        tag: "recipe",
        value: Number.NaN,
        quality: "GOOD",
        sourceTime: new Date(1_740_985_260_900),
        dataType: "LOCALIZED_TEXT",
        textValue: "Rohling",
        locale: "de-DE",
        index: 2,
      },
    ],
  },
  "mfg.quality.spc_violation_detected.v1": {
    violationId: "spc-1",
    equipment: { site: "plant-lyon", area: null, line: "line-2", cell: null, machine: null },
    characteristic: "bore-diameter",
    product: null,
    lot: "LOT-2025-0042",
    ruleSet: "WESTERN_ELECTRIC",
    ruleNumber: 1,
    ruleDescription: "One point beyond 3 sigma",
    centerLine: 42,
    lowerControlLimit: 41.97,
    upperControlLimit: 42.03,
    points: [{ value: 42.041, measuredAt: new Date(1_740_985_260_000), inspectionId: null }],
    detectedAt: new Date(1_740_985_261_000),
  },
  "mfg.shipping.shipment_cleared.v1": {
    pickingRef: "WH/OUT/00012",
    odooPickingId: 12n,
    site: "plant-lyon",
    lots: ["LOT-2025-0042"],
    wasBlocked: true,
    clearedAt: new Date(1_740_985_262_000),
  },
};

/** Decodes a body as the payload type of `eventType`: avsc's result, typed by the generated interfaces. */
function decodeAs<K extends EventType>(eventType: K, body: Buffer): EventPayloads[K] {
  return catalog.get(eventType).type.fromBuffer(body) as EventPayloads[K];
}

describe("generated types match avsc values", () => {
  for (const [eventType, sample] of Object.entries(SAMPLES)) {
    it(`${eventType}: a typed sample is valid and decodes to itself`, () => {
      const { type } = catalog.get(eventType);
      assert.ok(type.isValid(sample), `sample of ${eventType} is not valid for its schema`);
      const decoded = type.fromBuffer(type.toBuffer(sample));
      assert.deepStrictEqual(normalizeValue(type, decoded), normalizeValue(type, sample));
      assertRuntimeKinds(type, decoded, eventType);
    });
  }

  it("gives decoded fields the static types the interfaces declare", () => {
    const released = SAMPLES["mfg.production.production_order_released.v1"]!;
    const body = catalog.get("mfg.production.production_order_released.v1").type.toBuffer(released);
    const r = decodeAs("mfg.production.production_order_released.v1", body);
    // Each assignment is checked by the compiler; each assertion checks avsc agrees at runtime.
    const id: bigint = r.odooOrderId;
    const qty: string = r.quantity.value;
    const start: Date = r.plannedStartAt;
    const end: Date | null = r.plannedEndAt;
    const lot: string | null | undefined = r.components[0]?.lot;
    assert.equal(typeof id, "bigint");
    assert.equal(qty, "1200.500000");
    assert.ok(start instanceof Date);
    assert.equal(end, null);
    assert.equal(lot, "HEAT-88121");
  });
});

/** Asserts a decoded value has, at every depth, the JavaScript kind the generator maps its Avro type to. */
function assertRuntimeKinds(type: avro.Type, value: unknown, path: string): void {
  const fail = (expected: string) =>
    assert.fail(`${path}: expected ${expected}, got ${typeof value} ${String(value)}`);
  switch (type.typeName) {
    case "logical:decimal": {
      const scale = (type as unknown as { scale: number }).scale;
      if (
        typeof value !== "string" ||
        !new RegExp(`^-?\\d+${scale > 0 ? `\\.\\d{${scale}}` : ""}$`).test(value)
      ) {
        fail(`a Decimal string with ${scale} fraction digits`);
      }
      return;
    }
    case "logical:timestamp-millis":
      if (!(value instanceof Date)) fail("a Date");
      return;
    case "abstract:long":
      if (typeof value !== "bigint") fail("a bigint");
      return;
    case "int":
    case "float":
    case "double":
      if (typeof value !== "number") fail("a number");
      return;
    case "string":
      if (typeof value !== "string") fail("a string");
      return;
    case "enum":
      if (!(type as avro.types.EnumType).symbols.includes(value as string)) fail("an enum symbol");
      return;
    case "boolean":
      if (typeof value !== "boolean") fail("a boolean");
      return;
    case "null":
      if (value !== null) fail("null");
      return;
    case "bytes":
    case "fixed":
      if (!Buffer.isBuffer(value)) fail("a Buffer");
      return;
    case "array":
      if (!Array.isArray(value)) fail("an array");
      for (const [i, v] of (value as unknown[]).entries()) {
        assertRuntimeKinds((type as avro.types.ArrayType).itemsType, v, `${path}[${i}]`);
      }
      return;
    case "map":
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        assertRuntimeKinds((type as avro.types.MapType).valuesType as avro.Type, v, `${path}.${k}`);
      }
      return;
    case "record":
      if (typeof value !== "object" || value === null) fail("an object");
      for (const field of (type as avro.types.RecordType).fields) {
        const v = (value as Record<string, unknown>)[field.name];
        assertRuntimeKinds(field.type, v, `${path}.${field.name}`);
      }
      return;
    case "union:unwrapped": {
      const branches = (type as avro.types.UnwrappedUnionType).types;
      const branch =
        value === null
          ? branches.find((b) => b.typeName === "null")
          : branches.find((b) => b.typeName !== "null" && b.isValid(value));
      if (!branch) fail(`a value of ${type.toString()}`);
      assertRuntimeKinds(branch as avro.Type, value, path);
      return;
    }
    default:
      assert.fail(`${path}: no TypeScript mapping is tested for Avro type ${type.typeName}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Property: random valid payloads of every event are valid and round-trip exactly

describe("random payloads of every event", () => {
  for (const contract of contracts) {
    it(`${contract.eventType}: valid, and round-trips through Avro binary`, () => {
      const { type } = contract;
      fc.assert(
        fc.property(arbitraryFor(type), (value) => {
          assert.ok(type.isValid(value), `generated value is not valid: ${inspectValue(value)}`);
          const decoded = type.fromBuffer(type.toBuffer(value));
          assert.deepStrictEqual(normalizeValue(type, decoded), normalizeValue(type, value));
          assertRuntimeKinds(type, decoded, contract.eventType);
        }),
        { numRuns: 150 },
      );
    });
  }

  it("reaches longs beyond 2^53 and decimals at full precision", () => {
    const type = catalog.get("mfg.production.production_reported.v1").type;
    const values = fc.sample(arbitraryFor(type), { numRuns: 300, seed: 42 }) as Array<{
      goodCounterTo: bigint;
      goodQuantity: { value: string };
    }>;
    assert.ok(values.some((v) => v.goodCounterTo > 2n ** 53n || v.goodCounterTo < -(2n ** 53n)));
    assert.ok(values.some((v) => v.goodQuantity.value.replace(/[-.]/g, "").replace(/^0+/, "").length >= 17));
  });
});

function inspectValue(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
}
