import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { SchemaInvalidError } from "../../contracts/src/errors.js";
import { fingerprintHex } from "../../contracts/src/fingerprint.js";
import {
  IncompatibleSchemaError,
  REGISTRY_BUCKET,
  RegistryConflictError,
  RegistryNotFoundError,
  SchemaRegistry,
} from "../../contracts/src/registry.js";
import { withJetStream } from "../harness/nats.js";

const SUBJECT = "mfg.test.lot_weighed.v1";

/** A LotWeighed record with extra optional fields `extras` (each with a default). */
function lotWeighed(extras: string[] = [], overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: "record",
    name: "LotWeighed",
    namespace: "mfg.test",
    doc: "A lot was weighed.",
    fields: [
      { name: "lot", type: "string", doc: "Lot number." },
      {
        name: "kg",
        type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 3 },
        doc: "Weight.",
      },
      ...extras.map((name) => ({ name, type: ["null", "string"], default: null, doc: `Extra ${name}.` })),
    ],
    ...overrides,
  });
}

// One server for the file; the harness disposes of it when the file's tests end.
const { nc } = await withJetStream();
const registry = await SchemaRegistry.open(nc);

describe("schema registry - on a JetStream KV bucket", () => {
  test("registering the identical schema twice is idempotent: one version, created once", async () => {
    const first = await registry.register(SUBJECT, lotWeighed());
    const again = await registry.register(SUBJECT, lotWeighed());
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.version, first.version);
    assert.equal((await registry.subject(SUBJECT))?.versions.length, 1);
  });

  test("a schema is found by fingerprint and by subject + version, with its original text", async () => {
    const text = lotWeighed(["scale"]);
    const r = await registry.register(SUBJECT, text);
    assert.equal(r.version, 2);
    assert.equal((await registry.get(SUBJECT, 2)).schema, text);
    assert.equal((await registry.get(SUBJECT)).version, 2);
    const found = await registry.lookup(fingerprintHex(JSON.parse(text)));
    assert.deepEqual(found, { subject: SUBJECT, version: 2, fingerprint: r.fingerprint, schema: text });
    assert.equal(await registry.lookup("0000000000000000"), undefined);
    await assert.rejects(registry.get(SUBJECT, 9), RegistryNotFoundError);
  });

  test("an incompatible schema is refused naming the field and the rule, and nothing is written", async () => {
    const before = (await registry.subject(SUBJECT))?.versions.length;
    const breaking = JSON.stringify({
      ...JSON.parse(lotWeighed(["scale"])),
      fields: [
        ...JSON.parse(lotWeighed(["scale"])).fields,
        { name: "operator", type: "string", doc: "Who." },
      ],
    });
    const err = await registry.register(SUBJECT, breaking).catch((e) => e);
    assert.ok(err instanceof IncompatibleSchemaError, String(err));
    assert.equal(err.code, "SCHEMA_INCOMPATIBLE");
    assert.match(err.message, /operator/);
    assert.match(err.message, /READER_FIELD_MISSING_DEFAULT/);
    assert.equal((await registry.subject(SUBJECT))?.versions.length, before);
  });

  test("a malformed schema is refused before anything is written", async () => {
    await assert.rejects(
      registry.register("mfg.test.broken.v1", '{"type":"record","name":"X","fields":[{"name":"a"}]}'),
      SchemaInvalidError,
    );
    await assert.rejects(registry.register("mfg.test.broken.v1", "{not json"), SchemaInvalidError);
    assert.equal(await registry.subject("mfg.test.broken.v1"), undefined);
  });

  test("a decimal scale change with the same canonical fingerprint is a conflict, not a silent alias", async () => {
    const rescaled = lotWeighed([], {}).replace('"scale":3', '"scale":2');
    const err = await registry.register("mfg.test.other.v1", rescaled).catch((e) => e);
    assert.ok(err instanceof RegistryConflictError, String(err));
  });

  test("concurrent registrations of different versions all land, numbered 1..n without gaps or duplicates", async () => {
    const subject = "mfg.test.concurrent.v1";
    const schemas = Array.from({ length: 12 }, (_, i) => lotWeighed([`extra${i}`]));
    const results = await Promise.all(schemas.map((s) => registry.register(subject, s)));
    const record = await registry.subject(subject);
    assert.deepEqual(
      record?.versions.map((v) => v.version),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.deepEqual(new Set(results.map((r) => r.version)).size, 12);
    assert.deepEqual(new Set(record?.versions.map((v) => v.fingerprint)).size, 12);
  });

  test("concurrent registrations of one schema give one version", async () => {
    const subject = "mfg.test.same.v1";
    const results = await Promise.all(
      Array.from({ length: 8 }, () => registry.register(subject, lotWeighed())),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal((await registry.subject(subject))?.versions.length, 1);
  });

  test("the compatibility mode is per subject: NONE accepts a breaking change", async () => {
    const subject = "mfg.test.free.v1";
    await registry.register(subject, lotWeighed(), { compatibility: "NONE" });
    const r = await registry.register(subject, lotWeighed().replace('"name":"lot"', '"name":"batch"'));
    assert.equal(r.version, 2);
    assert.equal((await registry.subject(subject))?.compatibility, "NONE");
  });

  test("a subject follows the default mode until someone sets one; a mode stored by older versions with each registration is not taken as set", async () => {
    const subject = "mfg.test.defaulted.v1";
    await registry.register(subject, lotWeighed());
    assert.deepEqual(
      { ...(await registry.subject(subject)), versions: undefined },
      { subject, compatibility: "FULL_TRANSITIVE", compatibilitySet: false, versions: undefined },
    );
    // What registrations wrote before modes were recorded as set: the default of their time.
    const kv = await new Kvm(nc).open(REGISTRY_BUCKET);
    const stored = JSON.parse(new TextDecoder().decode((await kv.get(`subjects.${subject}`))?.value));
    await kv.put(`subjects.${subject}`, JSON.stringify({ ...stored, compatibility: "BACKWARD_TRANSITIVE" }));
    assert.equal((await registry.subject(subject))?.compatibility, "FULL_TRANSITIVE");
    await registry.setCompatibility(subject, "BACKWARD");
    await registry.register(subject, lotWeighed(["shift"]));
    assert.deepEqual(
      { ...(await registry.subject(subject)), versions: undefined },
      { subject, compatibility: "BACKWARD", compatibilitySet: true, versions: undefined },
    );
  });

  test("list returns every subject with its versions, sorted", async () => {
    const subjects = (await registry.list()).map((s) => s.subject);
    assert.deepEqual(subjects, [...subjects].sort());
    assert.ok(subjects.includes(SUBJECT));
  });
});
