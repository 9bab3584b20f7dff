/**
 * Schema evolution rules, as a specification: each test name is a rule, each assertion names the
 * exact rule code(s) and path(s). Every verdict is also cross-checked against avsc's own resolver
 * (`reader.createResolver(writer)` throws iff problems are reported), except for DECIMAL_MISMATCH,
 * which is deliberately stricter than avsc.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import avro from "avsc";
import fc from "fast-check";
import {
  AVRO_PRIMITIVES,
  type AvroFieldSchema,
  type AvroPrimitive,
  type AvroSchema,
  type AvroSchemaObject,
  COMPATIBILITY_MODES,
  type CompatibilityDirection,
  type CompatibilityMode,
  type CompatibilityReport,
  canRead,
  checkCompatibility,
  DEFAULT_COMPATIBILITY_MODE,
  formatReport,
  INCOMPATIBILITY_RULES,
  type IncompatibilityRule,
  isCompatibilityMode,
  PROMOTIONS,
} from "../../contracts/src/compatibility.js";
import { SchemaInvalidError } from "../../contracts/src/errors.js";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

type AvscSchema = Parameters<typeof avro.Type.forSchema>[0];

/** avsc's verdict. Namespaces are ignored to match the specification's unqualified-name rule. */
function avscCanRead(reader: AvroSchema, writer: AvroSchema): boolean {
  // Outside the try: a schema avsc rejects is a broken test, not an incompatibility.
  const readerType = avro.Type.forSchema(reader as unknown as AvscSchema);
  const writerType = avro.Type.forSchema(writer as unknown as AvscSchema);
  try {
    readerType.createResolver(writerType, { ignoreNamespaces: true });
    return true;
  } catch {
    return false;
  }
}

/** Asserts that avsc agrees with a canRead verdict (DECIMAL_MISMATCH alone: avsc is more lenient). */
function assertAvscAgrees(
  reader: AvroSchema,
  writer: AvroSchema,
  rules: readonly IncompatibilityRule[],
): void {
  const stricterOnly = rules.length > 0 && rules.every((r) => r === "DECIMAL_MISMATCH");
  const expected = rules.length === 0 || stricterOnly;
  assert.equal(
    avscCanRead(reader, writer),
    expected,
    `avsc ${expected ? "rejects" : "accepts"} what canRead ${rules.length ? `rejects (${rules.join(", ")})` : "accepts"}\n` +
      `reader: ${JSON.stringify(reader)}\nwriter: ${JSON.stringify(writer)}`,
  );
}

/** canRead's problems as [rule, path] pairs, after checking messages and avsc's verdict. */
function read(reader: AvroSchema, writer: AvroSchema): Array<[IncompatibilityRule, string]> {
  const problems = canRead(reader, writer);
  for (const p of problems) {
    assert.ok(p.message.includes(p.path), `message names the path: ${p.message}`);
    assert.ok(p.message.length > 0 && p.message[0] === p.message[0]?.toLowerCase());
  }
  assertAvscAgrees(
    reader,
    writer,
    problems.map((p) => p.rule),
  );
  return problems.map((p) => [p.rule, p.path]);
}

const DIRECTIONS: Record<CompatibilityMode, readonly CompatibilityDirection[]> = {
  BACKWARD: ["new reads old"],
  BACKWARD_TRANSITIVE: ["new reads old"],
  FORWARD: ["old reads new"],
  FORWARD_TRANSITIVE: ["old reads new"],
  FULL: ["new reads old", "old reads new"],
  FULL_TRANSITIVE: ["new reads old", "old reads new"],
  NONE: [],
};

/**
 * checkCompatibility, with avsc cross-checking every (version, direction) the mode covers, and
 * problems summarised as "v<version> <direction>: <rule> <path>".
 */
function evolve(
  candidate: AvroSchema,
  previous: readonly AvroSchema[],
  mode: CompatibilityMode,
): { report: CompatibilityReport; problems: string[] } {
  const report = checkCompatibility(candidate, previous, mode);
  assert.equal(report.mode, mode);
  assert.equal(report.compatible, report.problems.length === 0);
  const transitive = mode.endsWith("_TRANSITIVE");
  const expectedVersions =
    mode === "NONE" || previous.length === 0
      ? []
      : transitive
        ? previous.map((_, i) => i + 1)
        : [previous.length];
  assert.deepEqual(report.checkedVersions, expectedVersions);
  for (const version of expectedVersions) {
    const old = previous[version - 1] as AvroSchema;
    for (const direction of DIRECTIONS[mode]) {
      const [reader, writer] = direction === "new reads old" ? [candidate, old] : [old, candidate];
      const rules = report.problems
        .filter((p) => p.againstVersion === version && p.direction === direction)
        .map((p) => p.rule);
      assertAvscAgrees(reader, writer, rules);
    }
  }
  return {
    report,
    problems: report.problems.map((p) => `v${p.againstVersion} ${p.direction}: ${p.rule} ${p.path}`),
  };
}

function record(name: string, fields: readonly AvroFieldSchema[], extra: Partial<AvroSchemaObject> = {}) {
  return { ...extra, type: "record", name, fields } satisfies AvroSchemaObject;
}

// ---------------------------------------------------------------------------------------------
// The rule table
// ---------------------------------------------------------------------------------------------

describe("rule codes", () => {
  it("are a stable, documented set", () => {
    assert.deepEqual(Object.keys(INCOMPATIBILITY_RULES).sort(), [
      "AMBIGUOUS_FIELD_ALIAS",
      "DECIMAL_MISMATCH",
      "FIXED_SIZE_MISMATCH",
      "MISSING_ENUM_SYMBOL",
      "MISSING_UNION_BRANCH",
      "NAME_MISMATCH",
      "READER_FIELD_MISSING_DEFAULT",
      "TYPE_MISMATCH",
    ]);
    for (const description of Object.values(INCOMPATIBILITY_RULES)) assert.ok(description.length > 20);
  });
});

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

const orderV1 = record("ProductionOrderReleased", [
  { name: "order", type: "string" },
  { name: "quantity", type: "int" },
]);

describe("adding and removing fields", () => {
  it("adding a field with a default is backward compatible", () => {
    const v2 = record("ProductionOrderReleased", [
      ...orderV1.fields,
      { name: "line", type: "string", default: "L1" },
    ]);
    assert.deepEqual(evolve(v2, [orderV1], "BACKWARD").problems, []);
  });

  it("adding a field with a default is also forward compatible: old readers skip it", () => {
    const v2 = record("ProductionOrderReleased", [
      ...orderV1.fields,
      { name: "line", type: "string", default: "L1" },
    ]);
    assert.deepEqual(evolve(v2, [orderV1], "FULL").problems, []);
  });

  it("adding a field without a default is not backward compatible: the new reader has nothing to fill it with", () => {
    const v2 = record("ProductionOrderReleased", [...orderV1.fields, { name: "line", type: "string" }]);
    assert.deepEqual(evolve(v2, [orderV1], "BACKWARD").problems, [
      "v1 new reads old: READER_FIELD_MISSING_DEFAULT ProductionOrderReleased.line",
    ]);
  });

  it("a null default is a default", () => {
    const v2 = record("ProductionOrderReleased", [
      ...orderV1.fields,
      { name: "line", type: ["null", "string"], default: null },
    ]);
    assert.deepEqual(read(v2, orderV1), []);
  });

  it("removing a field is backward compatible: the new reader skips it", () => {
    const v2 = record("ProductionOrderReleased", [{ name: "order", type: "string" }]);
    assert.deepEqual(evolve(v2, [orderV1], "BACKWARD").problems, []);
  });

  it("removing a field that had no default breaks forward compatibility", () => {
    const v2 = record("ProductionOrderReleased", [{ name: "order", type: "string" }]);
    assert.deepEqual(evolve(v2, [orderV1], "FORWARD").problems, [
      "v1 old reads new: READER_FIELD_MISSING_DEFAULT ProductionOrderReleased.quantity",
    ]);
  });

  it("removing a field that had a default keeps forward (and full) compatibility", () => {
    const v1 = record("ProductionOrderReleased", [
      { name: "order", type: "string" },
      { name: "quantity", type: "int", default: 0 },
    ]);
    const v2 = record("ProductionOrderReleased", [{ name: "order", type: "string" }]);
    assert.deepEqual(evolve(v2, [v1], "FULL").problems, []);
  });

  it("renaming a field is compatible when the reader lists the old name as an alias", () => {
    const v2 = record("ProductionOrderReleased", [
      { name: "orderRef", type: "string", aliases: ["order"] },
      { name: "quantity", type: "int" },
    ]);
    assert.deepEqual(evolve(v2, [orderV1], "BACKWARD").problems, []);
  });

  it("renaming a field without an alias leaves the new field missing from old data", () => {
    const v2 = record("ProductionOrderReleased", [
      { name: "orderRef", type: "string" },
      { name: "quantity", type: "int" },
    ]);
    assert.deepEqual(read(v2, orderV1), [
      ["READER_FIELD_MISSING_DEFAULT", "ProductionOrderReleased.orderRef"],
    ]);
  });

  it("a field alias only helps the reader: an old reader cannot find a renamed field (forward fails)", () => {
    const v2 = record("ProductionOrderReleased", [
      { name: "orderRef", type: "string", aliases: ["order"] },
      { name: "quantity", type: "int" },
    ]);
    assert.deepEqual(evolve(v2, [orderV1], "FULL").problems, [
      "v1 old reads new: READER_FIELD_MISSING_DEFAULT ProductionOrderReleased.order",
    ]);
  });

  it("a reader field whose name and alias both match writer fields is ambiguous", () => {
    const writer = record("R", [
      { name: "a", type: "int" },
      { name: "b", type: "int" },
    ]);
    const reader = record("R", [{ name: "a", type: "int", aliases: ["b"] }]);
    assert.deepEqual(read(reader, writer), [["AMBIGUOUS_FIELD_ALIAS", "R.a"]]);
  });

  it("field order does not matter", () => {
    const swapped = record("ProductionOrderReleased", [
      { name: "quantity", type: "int" },
      { name: "order", type: "string" },
    ]);
    assert.deepEqual(evolve(swapped, [orderV1], "FULL").problems, []);
  });

  it("every broken field is reported, in the reader's field order", () => {
    const reader = record("ProductionOrderReleased", [
      { name: "line", type: "string" },
      { name: "order", type: "int" },
      { name: "quantity", type: "int" },
      { name: "lot", type: "string" },
    ]);
    assert.deepEqual(read(reader, orderV1), [
      ["READER_FIELD_MISSING_DEFAULT", "ProductionOrderReleased.line"],
      ["TYPE_MISMATCH", "ProductionOrderReleased.order"],
      ["READER_FIELD_MISSING_DEFAULT", "ProductionOrderReleased.lot"],
    ]);
  });

  it("the message names the field and what to do about it", () => {
    const v2 = record("ProductionOrderReleased", [...orderV1.fields, { name: "line", type: "string" }]);
    const [problem] = canRead(v2, orderV1);
    assert.equal(
      problem?.message,
      "field ProductionOrderReleased.line has no default and is missing from the writer",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Primitives and promotions
// ---------------------------------------------------------------------------------------------

describe("primitive types and promotions", () => {
  const promotes = (writer: AvroPrimitive, reader: AvroPrimitive) =>
    writer === reader || PROMOTIONS[writer].includes(reader);

  for (const writer of AVRO_PRIMITIVES) {
    for (const reader of AVRO_PRIMITIVES) {
      if (promotes(writer, reader)) {
        it(`a ${reader} reader reads ${writer} data`, () => {
          assert.deepEqual(read(reader, writer), []);
        });
      } else {
        it(`a ${reader} reader cannot read ${writer} data (TYPE_MISMATCH)`, () => {
          assert.deepEqual(read(reader, writer), [["TYPE_MISMATCH", "$"]]);
        });
      }
    }
  }

  it("the promotions are exactly the specification's", () => {
    const pairs = AVRO_PRIMITIVES.flatMap((w) => PROMOTIONS[w].map((r) => `${w}->${r}`));
    assert.deepEqual(pairs.sort(), [
      "bytes->string",
      "float->double",
      "int->double",
      "int->float",
      "int->long",
      "long->double",
      "long->float",
      "string->bytes",
    ]);
  });

  const withQuantity = (type: AvroSchema) => record("ProductionReported", [{ name: "good", type }]);

  it("widening int → long → float → double is backward transitive compatible at each step", () => {
    const history = ["int", "long", "float", "double"].map(withQuantity);
    for (let i = 1; i < history.length; i++) {
      const candidate = history[i] as AvroSchema;
      assert.deepEqual(evolve(candidate, history.slice(0, i), "BACKWARD_TRANSITIVE").problems, []);
    }
  });

  it("narrowing long → int is not backward compatible", () => {
    assert.deepEqual(evolve(withQuantity("int"), [withQuantity("long")], "BACKWARD").problems, [
      "v1 new reads old: TYPE_MISMATCH ProductionReported.good",
    ]);
  });

  it("widening int → long is not forward compatible: old readers cannot narrow", () => {
    assert.deepEqual(evolve(withQuantity("long"), [withQuantity("int")], "FORWARD").problems, [
      "v1 old reads new: TYPE_MISMATCH ProductionReported.good",
    ]);
  });

  it("string and bytes read each other in both directions (fully compatible)", () => {
    assert.deepEqual(evolve(withQuantity("bytes"), [withQuantity("string")], "FULL").problems, []);
    assert.deepEqual(evolve(withQuantity("string"), [withQuantity("bytes")], "FULL").problems, []);
  });

  it("the type mismatch message names the field and both types", () => {
    const [problem] = canRead(withQuantity("int"), withQuantity("long"));
    assert.equal(
      problem?.message,
      "field ProductionReported.good is long in the writer but int in the reader, and Avro does not promote long to int",
    );
  });

  it("a record cannot be read as a primitive, nor an array as a map", () => {
    assert.deepEqual(read(withQuantity("string"), withQuantity(record("Q", []))), [
      ["TYPE_MISMATCH", "ProductionReported.good"],
    ]);
    assert.deepEqual(
      read(withQuantity({ type: "map", values: "int" }), withQuantity({ type: "array", items: "int" })),
      [["TYPE_MISMATCH", "ProductionReported.good"]],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

describe("enums", () => {
  const state = (symbols: string[], extra: Partial<AvroSchemaObject> = {}) =>
    record("MachineStateChanged", [
      { name: "state", type: { type: "enum", name: "PackMLState", symbols, ...extra } },
    ]);
  const v1 = state(["IDLE", "EXECUTE", "STOPPED"]);
  const added = state(["IDLE", "EXECUTE", "STOPPED", "HELD"]);

  it("adding a symbol is backward compatible", () => {
    assert.deepEqual(evolve(added, [v1], "BACKWARD").problems, []);
  });

  it("adding a symbol breaks forward compatibility: old readers do not know it", () => {
    assert.deepEqual(evolve(added, [v1], "FORWARD").problems, [
      "v1 old reads new: MISSING_ENUM_SYMBOL MachineStateChanged.state",
    ]);
    const [problem] = canRead(v1, added);
    assert.match(
      problem?.message ?? "",
      /HELD is not in the reader's symbols and the reader enum has no default/,
    );
  });

  it("adding a symbol is forward compatible when the old reader's enum has a default", () => {
    const v1WithDefault = state(["IDLE", "EXECUTE", "STOPPED"], { default: "IDLE" });
    const addedWithDefault = state(["IDLE", "EXECUTE", "STOPPED", "HELD"], { default: "IDLE" });
    assert.deepEqual(evolve(addedWithDefault, [v1WithDefault], "FULL").problems, []);
  });

  it("removing a symbol breaks backward compatibility when the new enum has no default", () => {
    const removed = state(["IDLE", "EXECUTE"]);
    assert.deepEqual(evolve(removed, [v1], "BACKWARD").problems, [
      "v1 new reads old: MISSING_ENUM_SYMBOL MachineStateChanged.state",
    ]);
  });

  it("removing a symbol is backward compatible when the new enum has a default", () => {
    const removed = state(["IDLE", "EXECUTE"], { default: "IDLE" });
    assert.deepEqual(evolve(removed, [v1], "FULL").problems, []);
  });

  it("renaming an enum needs an alias", () => {
    const renamed = (aliases?: string[]) =>
      record("MachineStateChanged", [
        {
          name: "state",
          type: { type: "enum", name: "MachineState", symbols: ["IDLE", "EXECUTE", "STOPPED"], aliases },
        },
      ]);
    assert.deepEqual(read(renamed(), v1), [["NAME_MISMATCH", "MachineStateChanged.state"]]);
    assert.deepEqual(read(renamed(["PackMLState"]), v1), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------------------------

describe("unions", () => {
  const reading = (type: AvroSchema) => record("TelemetrySampled", [{ name: "value", type }]);

  it("adding a branch is backward compatible but not forward compatible", () => {
    const v1 = reading(["null", "double"]);
    const v2 = reading(["null", "double", "string"]);
    assert.deepEqual(evolve(v2, [v1], "BACKWARD").problems, []);
    assert.deepEqual(evolve(v2, [v1], "FORWARD").problems, [
      "v1 old reads new: MISSING_UNION_BRANCH TelemetrySampled.value",
    ]);
  });

  it("removing a branch is forward compatible but not backward compatible", () => {
    const v1 = reading(["null", "double", "string"]);
    const v2 = reading(["null", "double"]);
    assert.deepEqual(evolve(v2, [v1], "FORWARD").problems, []);
    assert.deepEqual(evolve(v2, [v1], "BACKWARD").problems, [
      "v1 new reads old: MISSING_UNION_BRANCH TelemetrySampled.value",
    ]);
    const [problem] = canRead(v2, v1);
    assert.equal(
      problem?.message,
      "field TelemetrySampled.value: the writer's union branch string is readable by no branch of the reader's union [null, double]",
    );
  });

  it("making a field nullable is backward compatible; an old non-null reader cannot read a null", () => {
    const v1 = reading("double");
    const v2 = reading(["null", "double"]);
    assert.deepEqual(evolve(v2, [v1], "BACKWARD").problems, []);
    assert.deepEqual(evolve(v2, [v1], "FORWARD").problems, [
      "v1 old reads new: MISSING_UNION_BRANCH TelemetrySampled.value",
    ]);
  });

  it("a value written as a plain type must be readable by some branch of the reader's union", () => {
    assert.deepEqual(read(reading(["null", "string"]), reading("double")), [
      ["MISSING_UNION_BRANCH", "TelemetrySampled.value"],
    ]);
  });

  it("union branches are promoted like plain types", () => {
    assert.deepEqual(read(reading(["null", "long"]), reading(["null", "int"])), []);
    assert.deepEqual(read(reading(["null", "double"]), reading("int")), []);
    assert.deepEqual(read(reading("bytes"), reading(["string"])), []);
  });

  it("a problem inside the one matching branch is reported where it is, not as a missing branch", () => {
    const quantity = (fields: readonly AvroFieldSchema[]) => record("Quantity", fields);
    const writer = reading(quantity([{ name: "value", type: "double" }]));
    const reader = reading([
      "null",
      quantity([
        { name: "value", type: "double" },
        { name: "uom", type: "string" },
      ]),
    ]);
    assert.deepEqual(read(reader, writer), [["READER_FIELD_MISSING_DEFAULT", "TelemetrySampled.value.uom"]]);
  });

  it("a union reads a union branch by branch, whatever the order", () => {
    assert.deepEqual(read(reading(["string", "null", "long"]), reading(["null", "int", "string"])), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Nested types and paths
// ---------------------------------------------------------------------------------------------

describe("nested types", () => {
  const released = (valueType: AvroSchema, lotType: AvroSchema, attrType: AvroSchema) =>
    record(
      "ProductionOrderReleased",
      [
        {
          name: "quantity",
          type: record("Quantity", [
            { name: "value", type: valueType },
            { name: "uom", type: "string" },
          ]),
        },
        {
          name: "components",
          type: { type: "array", items: record("Component", [{ name: "lot", type: lotType }]) },
        },
        { name: "attributes", type: { type: "map", values: attrType } },
      ],
      { namespace: "threadline.production" },
    );

  it("the path goes through nested records by field name", () => {
    assert.deepEqual(read(released("int", "string", "string"), released("long", "string", "string")), [
      ["TYPE_MISMATCH", "ProductionOrderReleased.quantity.value"],
    ]);
  });

  it("the path marks array items with [] and map values with {}", () => {
    assert.deepEqual(read(released("long", "int", "int"), released("long", "string", "string")), [
      ["TYPE_MISMATCH", "ProductionOrderReleased.components[].lot"],
      ["TYPE_MISMATCH", "ProductionOrderReleased.attributes{}"],
    ]);
    const [lot] = canRead(released("long", "int", "int"), released("long", "string", "string"));
    assert.match(
      lot?.message ?? "",
      /^field ProductionOrderReleased\.components\[\]\.lot is string in the writer/,
    );
  });

  it("an unnamed root is $", () => {
    const items = (lot: AvroSchema) => ({
      type: "array",
      items: record("Component", [{ name: "lot", type: lot }]),
    });
    assert.deepEqual(read(items("int"), items("string")), [["TYPE_MISMATCH", "$[].lot"]]);
    const [problem] = canRead({ type: "map", values: "int" }, { type: "map", values: "string" });
    assert.match(problem?.message ?? "", /^schema \$\{\} is string in the writer but int in the reader/);
  });

  it("promotions apply inside arrays and maps", () => {
    assert.deepEqual(read(released("double", "bytes", "bytes"), released("int", "string", "string")), []);
  });

  it("a named type used twice is checked at each place it is used", () => {
    const twice = (valueType: AvroSchema) =>
      record("ProductionReported", [
        { name: "good", type: record("Quantity", [{ name: "value", type: valueType }]) },
        { name: "reject", type: "Quantity" },
      ]);
    assert.deepEqual(read(twice("int"), twice("long")), [
      ["TYPE_MISMATCH", "ProductionReported.good.value"],
      ["TYPE_MISMATCH", "ProductionReported.reject.value"],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Named types, namespaces, aliases, recursion
// ---------------------------------------------------------------------------------------------

describe("named types", () => {
  const order = (name: string, extra: Partial<AvroSchemaObject> = {}) =>
    record(name, [{ name: "order", type: "string" }], extra);

  it("renaming a record breaks compatibility unless the reader has an alias for the old name", () => {
    assert.deepEqual(read(order("OrderReleased"), order("ProductionOrderReleased")), [
      ["NAME_MISMATCH", "OrderReleased"],
    ]);
    assert.deepEqual(
      read(
        order("OrderReleased", { aliases: ["ProductionOrderReleased"] }),
        order("ProductionOrderReleased"),
      ),
      [],
    );
  });

  it("a fully qualified alias matches the writer's full name", () => {
    const writer = order("ProductionOrderReleased", { namespace: "odoo.mrp" });
    const reader = order("OrderReleased", {
      namespace: "threadline.production",
      aliases: ["odoo.mrp.ProductionOrderReleased"],
    });
    assert.deepEqual(read(reader, writer), []);
  });

  it("names match without their namespaces, as the specification says", () => {
    assert.deepEqual(read(order("a.b.Order"), order("c.d.Order")), []);
  });

  it("a name is resolved in the enclosing namespace, then as written", () => {
    const schema = record(
      "Shipment",
      [
        { name: "from", type: record("Address", [{ name: "city", type: "string" }]) },
        { name: "to", type: "Address" },
        { name: "via", type: "threadline.shipping.Address" },
      ],
      { namespace: "threadline.shipping" },
    );
    assert.deepEqual(read(schema, schema), []);
    assert.throws(
      () => canRead(record("X", [{ name: "to", type: "Nowhere" }]), schema),
      (e: unknown) => e instanceof SchemaInvalidError && /unknown type "Nowhere"/.test(e.message),
    );
  });

  it("a fixed type must keep its size", () => {
    const hash = (size: number) =>
      record("LotRegistered", [{ name: "hash", type: { type: "fixed", name: "Hash", size } }]);
    assert.deepEqual(read(hash(16), hash(32)), [["FIXED_SIZE_MISMATCH", "LotRegistered.hash"]]);
    assert.deepEqual(read(hash(16), hash(16)), []);
  });

  it("a fixed type can be renamed with an alias", () => {
    const digest = (name: string, aliases?: string[]) =>
      record("LotRegistered", [{ name: "hash", type: { type: "fixed", name, size: 16, aliases } }]);
    assert.deepEqual(read(digest("Digest"), digest("Hash")), [["NAME_MISMATCH", "LotRegistered.hash"]]);
    assert.deepEqual(read(digest("Digest", ["Hash"]), digest("Hash")), []);
  });

  const list = (extra: readonly AvroFieldSchema[] = []) =>
    record("Step", [{ name: "name", type: "string" }, { name: "next", type: ["null", "Step"] }, ...extra]);

  it("a recursive type reads itself", () => {
    assert.deepEqual(read(list(), list()), []);
  });

  it("a problem in a recursive type is reported once, at its first occurrence", () => {
    assert.deepEqual(read(list([{ name: "minutes", type: "int" }]), list()), [
      ["READER_FIELD_MISSING_DEFAULT", "Step.minutes"],
    ]);
    assert.deepEqual(read(list([{ name: "minutes", type: "int", default: 0 }]), list()), []);
  });

  it("mutually recursive types terminate", () => {
    const tree = (valueType: AvroSchema) =>
      record("Node", [
        { name: "value", type: valueType },
        {
          name: "children",
          type: {
            type: "array",
            items: record("Edge", [
              { name: "to", type: "Node" },
              { name: "weight", type: "float" },
            ]),
          },
        },
      ]);
    assert.deepEqual(read(tree("long"), tree("int")), []);
    assert.deepEqual(read(tree("int"), tree("long")), [["TYPE_MISMATCH", "Node.value"]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Logical types
// ---------------------------------------------------------------------------------------------

describe("logical types", () => {
  const qty = (type: AvroSchema) => record("MaterialConsumed", [{ name: "qty", type }]);
  const decimal = (precision: number, scale: number) => ({
    type: "bytes",
    logicalType: "decimal",
    precision,
    scale,
  });

  it("a decimal scale change is a DECIMAL_MISMATCH in both directions (stricter than avsc)", () => {
    const v1 = qty(decimal(12, 3));
    const v2 = qty(decimal(12, 2));
    assert.deepEqual(evolve(v2, [v1], "FULL").problems, [
      "v1 new reads old: DECIMAL_MISMATCH MaterialConsumed.qty",
      "v1 old reads new: DECIMAL_MISMATCH MaterialConsumed.qty",
    ]);
    // avsc resolves decimals on their bytes alone, so it accepts the change.
    assert.equal(avscCanRead(v2, v1), true);
    const [problem] = canRead(v2, v1);
    assert.match(problem?.message ?? "", /decimal\(12,3\) in the writer but decimal\(12,2\) in the reader/);
  });

  it("a wider decimal precision reads a narrower one; a narrower one does not", () => {
    assert.deepEqual(read(qty(decimal(18, 3)), qty(decimal(12, 3))), []);
    assert.deepEqual(read(qty(decimal(9, 3)), qty(decimal(12, 3))), [
      ["DECIMAL_MISMATCH", "MaterialConsumed.qty"],
    ]);
  });

  it("a missing scale means scale 0", () => {
    assert.deepEqual(
      read(qty({ type: "bytes", logicalType: "decimal", precision: 9 }), qty(decimal(9, 0))),
      [],
    );
  });

  it("decimals on fixed are checked too, after size", () => {
    const fixedDecimal = (size: number, scale: number) =>
      qty({ type: "fixed", name: "Dec", size, logicalType: "decimal", precision: 9, scale });
    assert.deepEqual(read(fixedDecimal(8, 3), fixedDecimal(8, 2)), [
      ["DECIMAL_MISMATCH", "MaterialConsumed.qty"],
    ]);
    assert.deepEqual(read(fixedDecimal(8, 3), fixedDecimal(4, 3)), [
      ["FIXED_SIZE_MISMATCH", "MaterialConsumed.qty"],
    ]);
  });

  it("other logical types resolve on their underlying types", () => {
    const at = (type: AvroSchema) => record("DowntimeStarted", [{ name: "at", type }]);
    assert.deepEqual(read(at({ type: "long", logicalType: "timestamp-millis" }), at("long")), []);
    assert.deepEqual(
      read(at({ type: "long", logicalType: "timestamp-millis" }), at({ type: "int", logicalType: "date" })),
      [],
    );
    assert.deepEqual(
      read(at({ type: "int", logicalType: "date" }), at({ type: "long", logicalType: "timestamp-millis" })),
      [["TYPE_MISMATCH", "DowntimeStarted.at"]],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Compatibility modes
// ---------------------------------------------------------------------------------------------

describe("compatibility modes", () => {
  const v1 = record("ProductionOrderReleased", [{ name: "order", type: "string" }]);
  const v2 = record("ProductionOrderReleased", [
    { name: "order", type: "string" },
    { name: "line", type: "string", default: "L1" },
  ]);
  const v3 = record("ProductionOrderReleased", [
    { name: "order", type: "string" },
    { name: "line", type: "string" },
  ]);

  it("lists the seven registry modes, FULL_TRANSITIVE being the default", () => {
    assert.deepEqual(
      [...COMPATIBILITY_MODES],
      ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"],
    );
    assert.equal(DEFAULT_COMPATIBILITY_MODE, "FULL_TRANSITIVE");
    assert.equal(checkCompatibility(v3, [v1, v2]).mode, "FULL_TRANSITIVE");
    assert.equal(isCompatibilityMode("FULL"), true);
    assert.equal(isCompatibilityMode("full"), false);
  });

  it("BACKWARD only checks the latest version: v3 reads v2 (which writes line) and passes", () => {
    assert.deepEqual(evolve(v3, [v1, v2], "BACKWARD").problems, []);
  });

  it("BACKWARD_TRANSITIVE checks every version: v3 cannot read v1 data, which has no line", () => {
    const { report, problems } = evolve(v3, [v1, v2], "BACKWARD_TRANSITIVE");
    assert.deepEqual(problems, [
      "v1 new reads old: READER_FIELD_MISSING_DEFAULT ProductionOrderReleased.line",
    ]);
    assert.equal(report.compatible, false);
  });

  it("the default mode is the transitive one", () => {
    assert.equal(checkCompatibility(v3, [v1, v2]).compatible, false);
  });

  it("FORWARD only checks the latest reader; FORWARD_TRANSITIVE checks them all", () => {
    // v1 requires qty; v2 gives it a default; v3 drops it. Only the v1 reader is left without a value.
    const f1 = record("ProductionReported", [
      { name: "order", type: "string" },
      { name: "qty", type: "int" },
    ]);
    const f2 = record("ProductionReported", [
      { name: "order", type: "string" },
      { name: "qty", type: "int", default: 0 },
    ]);
    const f3 = record("ProductionReported", [{ name: "order", type: "string" }]);
    assert.deepEqual(evolve(f3, [f1, f2], "FORWARD").problems, []);
    assert.deepEqual(evolve(f3, [f1, f2], "FORWARD_TRANSITIVE").problems, [
      "v1 old reads new: READER_FIELD_MISSING_DEFAULT ProductionReported.qty",
    ]);
  });

  it("FULL checks both directions against the latest version, FULL_TRANSITIVE against every version", () => {
    assert.deepEqual(evolve(v3, [v1, v2], "FULL").problems, []);
    assert.deepEqual(evolve(v3, [v1, v2], "FULL_TRANSITIVE").problems, [
      "v1 new reads old: READER_FIELD_MISSING_DEFAULT ProductionOrderReleased.line",
    ]);
    const narrowed = record("ProductionOrderReleased", [
      { name: "order", type: "bytes" },
      { name: "qty", type: "int", default: 0 },
    ]);
    const widened = record("ProductionOrderReleased", [
      { name: "order", type: "string" },
      { name: "qty", type: "long", default: 0 },
    ]);
    assert.deepEqual(evolve(widened, [narrowed], "FULL").problems, [
      "v1 old reads new: TYPE_MISMATCH ProductionOrderReleased.qty",
    ]);
  });

  it("NONE accepts anything", () => {
    const { report } = evolve("string", [v1, v2, v3], "NONE");
    assert.deepEqual(report, { compatible: true, mode: "NONE", checkedVersions: [], problems: [] });
  });

  it("the first version of a subject is compatible under every mode", () => {
    for (const mode of COMPATIBILITY_MODES) assert.equal(evolve(v1, [], mode).report.compatible, true);
  });

  it("problems carry the version they were found against and the direction", () => {
    const report = checkCompatibility(
      record("ProductionOrderReleased", [{ name: "order", type: "int" }]),
      [v1, v2],
      "FULL_TRANSITIVE",
    );
    assert.deepEqual(
      report.problems.map((p) => [p.againstVersion, p.direction, p.rule, p.path]),
      [
        [1, "new reads old", "TYPE_MISMATCH", "ProductionOrderReleased.order"],
        [1, "old reads new", "TYPE_MISMATCH", "ProductionOrderReleased.order"],
        [2, "new reads old", "TYPE_MISMATCH", "ProductionOrderReleased.order"],
        [2, "old reads new", "TYPE_MISMATCH", "ProductionOrderReleased.order"],
      ],
    );
  });

  it("an invalid previous version is an error, not an incompatibility", () => {
    assert.throws(
      () => checkCompatibility(v3, [{ type: "record", name: "Broken" }], "BACKWARD"),
      (e: unknown) => e instanceof SchemaInvalidError && /previous version 1/.test(e.message),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Reports for people
// ---------------------------------------------------------------------------------------------

/**
 * The promise the default mode keeps: a consumer built on any version of a major reads events
 * written with any other (N-1 and N+1). Each kind of change, in both directions: `newReadsOld` is a
 * consumer already on the change reading older events, `oldReadsNew` a consumer still on the
 * previous version reading the changed producer's events. The default accepts a change only when
 * both hold.
 */
describe("the default mode: each kind of change, in both directions", () => {
  const base = (fields: readonly AvroFieldSchema[]) => record("ProductionReported", fields);
  const order: AvroFieldSchema = { name: "order", type: "string" };
  const qty: AvroFieldSchema = { name: "qty", type: "int" };
  const status = (symbols: string[], extra: Partial<AvroSchemaObject> = {}): AvroFieldSchema => ({
    name: "status",
    type: { type: "enum", name: "Status", symbols, ...extra },
  });
  type Rules = readonly IncompatibilityRule[];
  const changes: readonly {
    change: string;
    before: AvroSchema;
    after: AvroSchema;
    newReadsOld: Rules;
    oldReadsNew: Rules;
  }[] = [
    {
      change: "add a field with a default",
      before: base([order]),
      after: base([order, { name: "shift", type: ["null", "string"], default: null }]),
      newReadsOld: [],
      oldReadsNew: [],
    },
    {
      change: "add a field without a default",
      before: base([order]),
      after: base([order, qty]),
      newReadsOld: ["READER_FIELD_MISSING_DEFAULT"],
      oldReadsNew: [],
    },
    {
      change: "remove a field that has a default",
      before: base([order, { ...qty, default: 0 }]),
      after: base([order]),
      newReadsOld: [],
      oldReadsNew: [],
    },
    {
      change: "remove a field without a default (a consumer on the previous version requires it)",
      before: base([order, qty]),
      after: base([order]),
      newReadsOld: [],
      oldReadsNew: ["READER_FIELD_MISSING_DEFAULT"],
    },
    {
      change: "rename a field, keeping the old name as an alias",
      before: base([order, qty]),
      after: base([order, { name: "quantity", type: "int", aliases: ["qty"] }]),
      newReadsOld: [],
      oldReadsNew: ["READER_FIELD_MISSING_DEFAULT"],
    },
    {
      change: "rename a field with an alias and a default on both sides",
      before: base([order, { ...qty, default: 0 }]),
      after: base([order, { name: "quantity", type: "int", aliases: ["qty"], default: 0 }]),
      newReadsOld: [],
      oldReadsNew: [],
    },
    {
      change: "widen a type (int to long)",
      before: base([order, qty]),
      after: base([order, { name: "qty", type: "long" }]),
      newReadsOld: [],
      oldReadsNew: ["TYPE_MISMATCH"],
    },
    {
      change: "narrow a type (long to int)",
      before: base([order, { name: "qty", type: "long" }]),
      after: base([order, qty]),
      newReadsOld: ["TYPE_MISMATCH"],
      oldReadsNew: [],
    },
    {
      change: "make a required field optional (T to [null, T])",
      before: base([order, qty]),
      after: base([order, { name: "qty", type: ["null", "int"], default: null }]),
      newReadsOld: [],
      oldReadsNew: ["MISSING_UNION_BRANCH"],
    },
    {
      change: "add an enum symbol, the enum without a default",
      before: base([order, status(["OK", "HELD"])]),
      after: base([order, status(["OK", "HELD", "SCRAPPED"])]),
      newReadsOld: [],
      oldReadsNew: ["MISSING_ENUM_SYMBOL"],
    },
    {
      change: "add an enum symbol, the enum with a default",
      before: base([order, status(["UNKNOWN", "OK", "HELD"], { default: "UNKNOWN" })]),
      after: base([order, status(["UNKNOWN", "OK", "HELD", "SCRAPPED"], { default: "UNKNOWN" })]),
      newReadsOld: [],
      oldReadsNew: [],
    },
    {
      change: "remove an enum symbol, the enum without a default",
      before: base([order, status(["OK", "HELD", "SCRAPPED"])]),
      after: base([order, status(["OK", "HELD"])]),
      newReadsOld: ["MISSING_ENUM_SYMBOL"],
      oldReadsNew: [],
    },
    {
      change: "change a field's default",
      before: base([order, { ...qty, default: 0 }]),
      after: base([order, { ...qty, default: 1 }]),
      newReadsOld: [],
      oldReadsNew: [],
    },
    {
      change: "rename the record without an alias",
      before: base([order]),
      after: record("ProductionCounted", [order]),
      newReadsOld: ["NAME_MISMATCH"],
      oldReadsNew: ["NAME_MISMATCH"],
    },
  ];
  for (const c of changes) {
    const accepted = c.newReadsOld.length === 0 && c.oldReadsNew.length === 0;
    it(`${c.change}: ${accepted ? "accepted" : "refused"}`, () => {
      assert.deepEqual(
        read(c.after, c.before).map(([rule]) => rule),
        c.newReadsOld,
        "a consumer on the change reads older events",
      );
      assert.deepEqual(
        read(c.before, c.after).map(([rule]) => rule),
        c.oldReadsNew,
        "a consumer on the previous version reads the changed events",
      );
      const report = checkCompatibility(c.after, [c.before]);
      assert.equal(report.mode, DEFAULT_COMPATIBILITY_MODE);
      assert.equal(report.compatible, accepted);
      assert.deepEqual(
        report.problems.map((p) => `${p.direction}: ${p.rule}`),
        [
          ...c.newReadsOld.map((r) => `new reads old: ${r}`),
          ...c.oldReadsNew.map((r) => `old reads new: ${r}`),
        ],
      );
    });
  }

  it("holds across every registered version, not only the latest (v3 against v1 and v2)", () => {
    const v1 = base([order, qty]);
    const v2 = base([order, { ...qty, default: 0 }]);
    const v3 = base([order]);
    assert.deepEqual(evolve(v3, [v1, v2], DEFAULT_COMPATIBILITY_MODE).problems, [
      "v1 old reads new: READER_FIELD_MISSING_DEFAULT ProductionReported.qty",
    ]);
  });
});

describe("formatReport", () => {
  const v1 = record("ProductionOrderReleased", [{ name: "order", type: "string" }]);
  const withLine = record("ProductionOrderReleased", [
    { name: "order", type: "string" },
    { name: "line", type: "string" },
  ]);

  it("explains a single problem on one line: mode, version, direction, field, rule", () => {
    assert.equal(
      formatReport(checkCompatibility(withLine, [v1])),
      "incompatible under FULL_TRANSITIVE: against version 1 (new reads old): field ProductionOrderReleased.line " +
        "has no default and is missing from the writer (READER_FIELD_MISSING_DEFAULT)",
    );
  });

  it("lists several problems one per line", () => {
    const three = record("ProductionOrderReleased", [
      { name: "order", type: "int" },
      { name: "line", type: "string" },
    ]);
    assert.deepEqual(formatReport(checkCompatibility(three, [v1], "FULL")).split("\n"), [
      "incompatible under FULL: 3 problems",
      "  - against version 1 (new reads old): field ProductionOrderReleased.order is string in the writer but int in the reader, and Avro does not promote string to int (TYPE_MISMATCH)",
      "  - against version 1 (new reads old): field ProductionOrderReleased.line has no default and is missing from the writer (READER_FIELD_MISSING_DEFAULT)",
      "  - against version 1 (old reads new): field ProductionOrderReleased.order is int in the writer but string in the reader, and Avro does not promote int to string (TYPE_MISMATCH)",
    ]);
  });

  it("says what was checked when compatible", () => {
    assert.equal(
      formatReport(checkCompatibility(v1, [v1, v1])),
      "compatible under FULL_TRANSITIVE (checked against versions 1, 2)",
    );
    assert.equal(
      formatReport(checkCompatibility(v1, [v1, v1], "FULL")),
      "compatible under FULL (checked against version 2)",
    );
    assert.equal(
      formatReport(checkCompatibility(v1, [])),
      "compatible under FULL_TRANSITIVE (no previous version)",
    );
    assert.equal(
      formatReport(checkCompatibility(v1, [withLine], "NONE")),
      "compatible under NONE (no compatibility checks)",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: random schemas, checked against avsc
// ---------------------------------------------------------------------------------------------

/** A random schema before it is made valid (unique names, unambiguous unions, valid defaults). */
type Draft =
  | { readonly k: "primitive"; readonly type: AvroPrimitive }
  | {
      readonly k: "record";
      readonly name: string;
      readonly aliases: readonly string[];
      readonly fields: DraftField[];
    }
  | {
      readonly k: "enum";
      readonly name: string;
      readonly aliases: readonly string[];
      readonly symbols: readonly string[];
      readonly withDefault: boolean;
    }
  | { readonly k: "fixed"; readonly name: string; readonly size: number }
  | { readonly k: "array"; readonly items: Draft }
  | { readonly k: "map"; readonly values: Draft }
  | { readonly k: "union"; readonly branches: Draft[] };
type RecordDraft = Extract<Draft, { k: "record" }>;
interface DraftField {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly type: Draft;
  readonly withDefault: boolean;
}

// A tiny vocabulary, so that two independent schemas often share names, fields and symbols.
const drafts = fc.letrec<{ schema: Draft; field: DraftField; record: RecordDraft }>((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", maxDepth: 3, depthIdentifier: "schema" },
    fc.record({ k: fc.constant("primitive" as const), type: fc.constantFrom(...AVRO_PRIMITIVES) }),
    tie("record"),
    fc.record({
      k: fc.constant("enum" as const),
      name: fc.constantFrom("E", "F"),
      aliases: fc.constantFrom([], ["E"], ["F"]),
      symbols: fc.uniqueArray(fc.constantFrom("X", "Y", "Z"), { minLength: 1 }),
      withDefault: fc.boolean(),
    }),
    fc.record({ k: fc.constant("fixed" as const), name: fc.constantFrom("H"), size: fc.constantFrom(1, 2) }),
    fc.record({ k: fc.constant("array" as const), items: tie("schema") }),
    fc.record({ k: fc.constant("map" as const), values: tie("schema") }),
    fc.record({
      k: fc.constant("union" as const),
      branches: fc.array(tie("schema"), { minLength: 1, maxLength: 3 }),
    }),
  ),
  record: fc.record({
    k: fc.constant("record" as const),
    name: fc.constantFrom("A", "B"),
    aliases: fc.constantFrom([], ["A"], ["B"]),
    fields: fc.uniqueArray(tie("field"), { selector: (f) => f.name, maxLength: 3 }),
  }),
  field: fc.record({
    name: fc.constantFrom("f", "g", "h"),
    aliases: fc.constantFrom([], ["f"], ["g"], ["h"]),
    type: tie("schema"),
    withDefault: fc.boolean(),
  }),
}));

function draftKey(d: Draft): string {
  switch (d.k) {
    case "primitive":
      return d.type;
    case "array":
    case "map":
    case "union":
      return d.k;
    default:
      return d.name;
  }
}

/** Turns a draft into a valid schema: later definitions of a name become references to the first. */
function finalize(root: Draft): AvroSchema {
  const defined = new Map<string, AvroSchemaObject>();
  const building = new Set<string>(); // records whose fields are not all known yet
  const defaultFor = (schema: AvroSchema, visiting: Set<string>): unknown => {
    if (typeof schema === "string") {
      const simple: Record<AvroPrimitive, unknown> = {
        null: null,
        boolean: false,
        int: 1,
        long: 2,
        float: 0.5,
        double: 1.5,
        bytes: "b",
        string: "s",
      };
      if (schema in simple) return simple[schema as AvroPrimitive];
      const def = defined.get(schema);
      return def === undefined || building.has(schema) ? undefined : defaultFor(def, visiting);
    }
    if (Array.isArray(schema)) return schema[0] === undefined ? undefined : defaultFor(schema[0], visiting);
    const s = schema as AvroSchemaObject;
    switch (s.type) {
      case "array":
        return [];
      case "map":
        return {};
      case "enum":
        return s.symbols?.[0];
      case "fixed":
        return "\u0000".repeat(s.size ?? 0);
      case "record": {
        const name = s.name ?? "";
        if (visiting.has(name)) return undefined;
        const value: Record<string, unknown> = {};
        for (const f of s.fields ?? []) {
          const v = defaultFor(f.type, new Set([...visiting, name]));
          if (v === undefined) return undefined;
          value[f.name] = v;
        }
        return value;
      }
      default:
        return undefined;
    }
  };
  const build = (d: Draft): AvroSchema => {
    switch (d.k) {
      case "primitive":
        return d.type;
      case "array":
        return { type: "array", items: build(d.items) };
      case "map":
        return { type: "map", values: build(d.values) };
      case "union": {
        const seen = new Set<string>();
        const kept = d.branches.filter((b) => {
          const key = draftKey(b);
          if (b.k === "union" || seen.has(key)) return false;
          seen.add(key);
          return true;
        });
        return kept.length === 0 ? "null" : kept.map(build);
      }
      default: {
        if (defined.has(d.name)) return d.name;
        if (d.k === "fixed") {
          const fixed = { type: "fixed", name: d.name, size: d.size };
          defined.set(d.name, fixed);
          return fixed;
        }
        if (d.k === "enum") {
          const e = {
            type: "enum",
            name: d.name,
            aliases: d.aliases,
            symbols: d.symbols,
            default: d.withDefault ? d.symbols[0] : undefined,
          };
          defined.set(d.name, e);
          return e;
        }
        const fields: AvroFieldSchema[] = [];
        const rec = { type: "record", name: d.name, aliases: d.aliases, fields };
        defined.set(d.name, rec);
        building.add(d.name);
        const names = d.fields.map((f) => f.name);
        for (const f of d.fields) {
          // An alias naming a sibling field makes the record ambiguous even against itself (avsc and
          // Java reject it, as canRead does); keep such aliases for the cross-schema case only.
          const aliases = f.aliases.filter((a) => !names.includes(a));
          const type = build(f.type);
          const dflt = f.withDefault ? defaultFor(type, new Set()) : undefined;
          fields.push(
            dflt === undefined
              ? { name: f.name, aliases, type }
              : { name: f.name, aliases, type, default: dflt },
          );
        }
        building.delete(d.name);
        return rec;
      }
    }
  };
  // Round-trip through JSON: drops undefined attributes, as a schema file would not have them.
  return JSON.parse(JSON.stringify(build(root))) as AvroSchema;
}

const rootRecords = drafts.record.map((d) => finalize({ ...d, name: "A" }));

describe("properties", () => {
  it("every schema reads its own data", () => {
    fc.assert(
      fc.property(drafts.schema.map(finalize), (schema) => {
        assert.deepEqual(canRead(schema, schema), []);
      }),
      { numRuns: 300 },
    );
  });

  it("canRead agrees with avsc on random pairs of schemas", () => {
    let compatible = 0;
    let incompatible = 0;
    fc.assert(
      fc.property(rootRecords, rootRecords, (reader, writer) => {
        const rules = canRead(reader, writer).map((p) => p.rule);
        assertAvscAgrees(reader, writer, rules);
        if (rules.length === 0) compatible++;
        else incompatible++;
      }),
      { numRuns: 1000 },
    );
    // Both verdicts must be well represented, or the property proves little.
    assert.ok(compatible > 50, `only ${compatible} compatible pairs`);
    assert.ok(incompatible > 50, `only ${incompatible} incompatible pairs`);
  });

  it("canRead agrees with avsc on a schema and a random type change of one field", () => {
    fc.assert(
      fc.property(rootRecords, drafts.schema.map(finalize), fc.nat(), (schema, newType, which) => {
        const s = schema as AvroSchemaObject;
        const fields = s.fields ?? [];
        if (fields.length === 0) return;
        const index = which % fields.length;
        const changed = {
          ...s,
          fields: fields.map((f, i) => (i === index ? { name: f.name, type: newType } : f)),
        };
        let valid = true;
        try {
          avro.Type.forSchema(changed as unknown as AvscSchema);
        } catch {
          valid = false; // e.g. the new type redefines a name used elsewhere
        }
        fc.pre(valid);
        for (const [reader, writer] of [
          [changed, schema],
          [schema, changed],
        ] as const) {
          assertAvscAgrees(
            reader,
            writer,
            canRead(reader, writer).map((p) => p.rule),
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});
