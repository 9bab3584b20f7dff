import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { typeForSchema } from "../../contracts/src/avro.js";
import { Catalog, contractFromText } from "../../contracts/src/catalog.js";
import { EventCodec, readHeader } from "../../contracts/src/codec.js";
import {
  BadMarkerError,
  CorruptBodyError,
  NotSingleObjectError,
  PayloadInvalidError,
  ThreadlineError,
  TrailingBytesError,
  TruncatedBodyError,
  UnknownEventTypeError,
  UnknownFingerprintError,
} from "../../contracts/src/errors.js";
import { canonicalForm, crc64Avro, fingerprintBytes } from "../../contracts/src/fingerprint.js";
import { fromJson, toJson } from "../../contracts/src/json.js";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";

const vectors = JSON.parse(
  readFileSync(join(PACKAGE_ROOT, "test/contracts/fixtures/avro-fingerprint-vectors.json"), "utf8"),
) as {
  vectors: { input: string; canonical: string; fingerprint?: string }[];
};

const WIDGET = JSON.stringify({
  type: "record",
  name: "WidgetMade",
  namespace: "mfg.test",
  doc: "A widget left the line.",
  fields: [
    { name: "widget", type: "string", doc: "Widget id." },
    {
      name: "qty",
      type: { type: "bytes", logicalType: "decimal", precision: 18, scale: 3 },
      doc: "Exact quantity.",
    },
    { name: "madeAt", type: { type: "long", logicalType: "timestamp-millis" }, doc: "When." },
    { name: "counter", type: "long", doc: "Machine counter value." },
    {
      name: "state",
      type: { type: "enum", name: "State", symbols: ["OK", "NOK"], doc: "Result." },
      doc: "Result.",
    },
    { name: "note", type: ["null", "string"], default: null, doc: "Optional note." },
  ],
});
const contract = contractFromText("test/WidgetMade.v1.avsc", WIDGET);
const codec = new EventCodec({ catalog: new Catalog([contract]) });
const TYPE = "mfg.test.widget_made.v1";
const sample = {
  widget: "W-1",
  qty: "12.500",
  madeAt: new Date("2026-11-30T08:00:00.123Z"),
  counter: 2n ** 60n + 7n,
  state: "OK",
  note: null,
};

describe("codec - fingerprints", () => {
  test("canonical form and CRC-64-AVRO match every published Avro specification vector", () => {
    for (const v of vectors.vectors) {
      assert.equal(canonicalForm(v.input), v.canonical, `canonical form of ${v.input}`);
      if (v.fingerprint) {
        assert.equal(
          BigInt.asIntN(64, crc64Avro(Buffer.from(v.canonical))),
          BigInt(v.fingerprint),
          `fingerprint of ${v.input}`,
        );
      }
    }
  });

  test("logical types, docs and defaults do not change the fingerprint; names and types do", () => {
    const base = { type: "record", name: "R", fields: [{ name: "a", type: "long" }] };
    const decorated = {
      ...base,
      doc: "d",
      fields: [{ name: "a", type: { type: "long", logicalType: "timestamp-millis" }, doc: "x", default: 0 }],
    };
    assert.deepEqual(fingerprintBytes(decorated), fingerprintBytes(base));
    assert.notDeepEqual(fingerprintBytes({ ...base, name: "S" }), fingerprintBytes(base));
  });
});

describe("codec - single-object encoding", () => {
  test("a message starts with C3 01 and the writer schema's little-endian fingerprint", () => {
    const bytes = codec.encode(TYPE, sample);
    assert.equal(bytes[0], 0xc3);
    assert.equal(bytes[1], 0x01);
    assert.deepEqual(bytes.subarray(2, 10), fingerprintBytes(WIDGET));
    assert.equal(readHeader(bytes).fingerprint, contract.fingerprint);
  });

  test("decimals, timestamps and longs beyond 2^53 round-trip exactly", async () => {
    const decoded = await codec.decode(codec.encode(TYPE, sample));
    assert.deepEqual({ ...(decoded.value as object) }, sample);
    assert.equal(decoded.eventType, TYPE);
    assert.equal(decoded.writer.fingerprint, contract.fingerprint);
  });

  test("decimals are normalised to the schema scale and never rounded", async () => {
    const decoded = await codec.decode(codec.encode(TYPE, { ...sample, qty: "7.5" }));
    assert.equal((decoded.value as typeof sample).qty, "7.500");
    assert.throws(() => codec.encode(TYPE, { ...sample, qty: "7.5001" }), PayloadInvalidError);
    assert.throws(() => codec.encode(TYPE, { ...sample, qty: 7.5 }), PayloadInvalidError);
  });

  test("an invalid payload is refused with every bad field named, and nothing is encoded", () => {
    const err = (() => {
      try {
        codec.encode(TYPE, { ...sample, widget: 42, state: "MAYBE", madeAt: "yesterday" });
      } catch (e) {
        return e;
      }
      assert.fail("expected PayloadInvalidError");
    })();
    assert.ok(err instanceof PayloadInvalidError);
    assert.equal(err.code, "PAYLOAD_INVALID");
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ["widget", "madeAt", "state"],
    );
    assert.match(err.message, /state \(expected enum OK\|NOK, got "MAYBE"\)/);
  });

  test("a field the schema does not have is refused by name, also inside nested records, and nothing is encoded", () => {
    const err = (() => {
      try {
        codec.encode(TYPE, { ...sample, shfit: "night" });
      } catch (e) {
        return e;
      }
      assert.fail("expected PayloadInvalidError");
    })();
    assert.ok(err instanceof PayloadInvalidError);
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ["shfit"],
    );
    assert.match(
      err.message,
      /shfit \(expected no such field: WidgetMade has widget, qty, madeAt, counter, state, note/,
    );
    const reported = new EventCodec();
    const report = {
      equipment: { site: "s", area: null, line: "l", cell: null, machine: "m", shift: "A" },
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
      rejectedComponent: null,
      running: [{ startedAt: new Date(0), endedAt: new Date(1), why: "x" }],
    };
    assert.throws(
      () => reported.encode("mfg.production.production_reported.v1", report),
      (e: unknown) =>
        e instanceof PayloadInvalidError &&
        e.problems.map((p) => p.path).join() === "equipment.shift,running[0].why",
    );
  });

  test("a field with a default may be left out: the default is written", async () => {
    const { note: _, ...withoutNote } = sample;
    const decoded = await codec.decode(codec.encode(TYPE, withoutNote));
    assert.equal((decoded.value as typeof sample).note, null);
  });

  test("an unknown event type is refused by name", () => {
    assert.throws(() => codec.encode("mfg.test.nothing.v1", sample), UnknownEventTypeError);
  });
});

describe("codec - bad bytes raise distinct typed errors", () => {
  const good = codec.encode(TYPE, sample);

  test("too few bytes for a header", async () => {
    await assert.rejects(codec.decode(Buffer.from([0xc3])), NotSingleObjectError);
  });

  test("a wrong marker (e.g. JSON sent by mistake)", async () => {
    await assert.rejects(codec.decode(Buffer.from('{"widget":"W-1","qty":1}')), BadMarkerError);
  });

  test("a truncated body", async () => {
    await assert.rejects(codec.decode(good.subarray(0, good.length - 3)), TruncatedBodyError);
  });

  test("trailing bytes after the record", async () => {
    await assert.rejects(codec.decode(Buffer.concat([good, Buffer.from([0, 0])])), TrailingBytesError);
  });

  test("an unknown fingerprint", async () => {
    const other = Buffer.from(good);
    other[5] = (other[5] as number) ^ 0xff;
    const err = await codec.decode(other).catch((e) => e);
    assert.ok(err instanceof UnknownFingerprintError);
    assert.equal(err.fingerprint, other.subarray(2, 10).toString("hex"));
  });

  test("an enum index out of range is corruption, not a silently wrong value", async () => {
    const bad = codec.encode(TYPE, { ...sample, state: "NOK", note: null });
    // The enum index is the byte before the union index of `note` (last two bytes): 02 -> 0x0a.
    const corrupt = Buffer.from(bad);
    corrupt[corrupt.length - 2] = 0x0a;
    await assert.rejects(codec.decode(corrupt), CorruptBodyError);
  });

  test("random bytes after a valid header never crash and never decode to a value that is not what they encode", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (body) => {
        const bytes = Buffer.concat([good.subarray(0, 10), body]);
        try {
          const decoded = await codec.decode(bytes);
          // Whatever decodes must be exactly what those bytes mean.
          assert.deepEqual(codec.encode(TYPE, decoded.value), bytes);
        } catch (e) {
          assert.ok(e instanceof ThreadlineError, `untyped error: ${e}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("random garbage is refused with a typed error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        if (bytes[0] === 0xc3 && bytes[1] === 0x01) return;
        const err = await codec.decode(bytes).catch((e) => e);
        assert.ok(err instanceof NotSingleObjectError || err instanceof BadMarkerError);
      }),
    );
  });
});

describe("codec - JSON form", () => {
  test("decimals are strings, timestamps ISO-8601, longs beyond 2^53 strings", () => {
    const json = toJson(contract.type, sample);
    assert.deepEqual(json, {
      widget: "W-1",
      qty: "12.500",
      madeAt: "2026-11-30T08:00:00.123Z",
      counter: "1152921504606846983",
      state: "OK",
      note: null,
    });
    assert.deepEqual(fromJson(contract.type, json), { value: sample, problems: [] });
  });

  test("JSON that does not fit names the field", () => {
    const { problems } = fromJson(contract.type, { ...(toJson(contract.type, sample) as object), qty: 12.5 });
    assert.equal(problems[0]?.path, "qty");
    const extra = fromJson(contract.type, { ...(toJson(contract.type, sample) as object), colour: "red" });
    assert.equal(extra.problems[0]?.path, "colour");
    assert.equal(extra.problems[0]?.expected, "no such field");
  });
});

describe("codec - time range", () => {
  test("a time beyond ±2^52 ms is refused as invalid instead of being corrupted", () => {
    assert.throws(
      () => codec.encode(TYPE, { ...sample, madeAt: new Date(-(2 ** 52) - 1) }),
      PayloadInvalidError,
    );
    assert.throws(() => codec.encode(TYPE, { ...sample, madeAt: new Date(Number.NaN) }), PayloadInvalidError);
  });
});

describe("decimal bytes on the wire", () => {
  // Two's complement, big-endian, shortest for bytes (Avro spec, "Decimal"); numbers are used up to
  // 6 bytes and bigints beyond: both must write the same bytes and read back the same value.
  // The expected bytes from the value's hexadecimal form (not the codec's own arithmetic).
  const reference = (n: bigint, size?: number): Buffer => {
    let len = size ?? 1;
    while (size === undefined && (n < -(2n ** BigInt(8 * len - 1)) || n >= 2n ** BigInt(8 * len - 1))) len++;
    return Buffer.from(
      BigInt.asUintN(8 * len, n)
        .toString(16)
        .padStart(2 * len, "0"),
      "hex",
    );
  };
  const bytesType = typeForSchema({ type: "bytes", logicalType: "decimal", precision: 38, scale: 0 });
  const fixedType = typeForSchema({
    type: "fixed",
    name: "D16",
    size: 16,
    logicalType: "decimal",
    precision: 38,
    scale: 0,
  });
  const edges = [
    0n,
    1n,
    -1n,
    127n,
    128n,
    -128n,
    -129n,
    255n,
    256n,
    2n ** 47n - 1n,
    2n ** 47n,
    -(2n ** 47n),
    -(2n ** 47n) - 1n,
  ];

  test("every value is written as the shortest two's complement and read back exactly, small or large", () => {
    const values = [...edges, ...fc.sample(fc.bigInt({ min: -(10n ** 37n), max: 10n ** 37n }), 300)];
    for (const n of values) {
      const text = n.toString();
      const bytes = bytesType.toBuffer(text);
      // bytes: a zig-zag length, then the two's complement
      const body = bytes.subarray(bytes.length - reference(n).length);
      assert.deepEqual(body, reference(n), text);
      assert.equal(bytesType.fromBuffer(bytes), text);
      const fixed = fixedType.toBuffer(text);
      assert.deepEqual(fixed, reference(n, 16), `${text} as fixed(16)`);
      assert.equal(fixedType.fromBuffer(fixed), text);
    }
  });
});
