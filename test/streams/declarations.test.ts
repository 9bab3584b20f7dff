/**
 * Streams as code, without a server: the shipped declarations are valid for every profile and route
 * every catalog event to exactly one stream; invalid declarations fail with a DeclarationError naming
 * each offending key.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EVENT_TYPES } from "../../contracts/src/events.generated.js";
import { odooConnectorManifest } from "../../services/odoo-connector/src/manifest.js";
import {
  DeclarationError,
  type Declarations,
  declarations,
  formatDuration,
  parseDuration,
  StreamsErrorCode,
  subjectsOverlap,
  subjectWithin,
  validateDeclarations,
} from "../../streams/src/declarations.js";
import { subjectFor } from "../../streams/src/envelope.js";
import { type OwnedStreamDeclaration, serviceManifest } from "../../streams/src/manifest.js";
import { MASTERDATA_STREAM } from "../../streams/src/masterdata.js";
import { DLQ_STREAM, dlqSubject, domainStream } from "../../streams/src/names.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { declarationsWithExamples, qualityServiceExample } from "../harness/example-manifests.js";

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };

/** A copy of the local declarations, edited by `fn`. */
function edited(fn: (d: Mutable<Declarations>) => void): unknown {
  const copy = structuredClone(declarationsWithExamples()) as Mutable<Declarations>;
  fn(copy);
  return copy;
}

/** The problems of the DeclarationError `fn` throws, as `key: message` lines. */
function refused(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DeclarationError, `expected a DeclarationError, got ${String(err)}`);
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
  return assert.fail("expected a DeclarationError");
}

/** The problems a DeclarationError reports, as `key: message` lines. */
function problemsOf(input: unknown): string[] {
  try {
    validateDeclarations(input);
  } catch (err) {
    assert.ok(err instanceof DeclarationError, `expected a DeclarationError, got ${String(err)}`);
    assert.equal(err.code, StreamsErrorCode.DeclarationInvalid);
    for (const p of err.problems) assert.ok(err.message.includes(p.key), `message names ${p.key}`);
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
  assert.fail("expected the declarations to be refused");
}

const MiB = 1024 ** 2;
const GiB = 1024 * MiB;

/** A stream a service could own: no replicas (the profile's), its size cap per profile. */
const SCRAP_STREAM = {
  description: "Scrap per machine (the only writer is the scrap tracker)",
  subjects: ["mfg.scrap.>"],
  retention: "limits",
  storage: "file",
  maxAge: "30d",
  maxBytes: { production: GiB, local: 16 * MiB },
  maxMsgSize: 256 * 1024,
  discard: "new",
  duplicateWindow: "24h",
} as const satisfies OwnedStreamDeclaration;

/** A service that owns MFG_SCRAP, declared as `stream`. */
function scrapTracker(stream: OwnedStreamDeclaration = SCRAP_STREAM) {
  return serviceManifest({
    service: "scrap-tracker",
    description: "scrap per machine",
    streams: { MFG_SCRAP: stream },
  });
}

describe("streams declarations - the shipped set", () => {
  test("is valid for both profiles, with 1 replica locally and 3 in production", () => {
    const local = declarationsWithExamples();
    const production = declarationsWithExamples({ profile: "production" });
    assert.deepEqual(Object.keys(local.streams), [
      "MFG_MACHINE",
      "MFG_PRODUCTION",
      "MFG_INVENTORY",
      "MFG_QUALITY",
      "MFG_SHIPPING",
      DLQ_STREAM,
      "THREADLINE_AUDIT",
      "THREADLINE_REPLAY",
      "MFG_MASTERDATA", // the Odoo connector's (its manifest)
    ]);
    assert.deepEqual(Object.keys(local.kv), [
      "THREADLINE_SCHEMAS",
      "THREADLINE_CONNECTOR_STATE",
      "THREADLINE_IDEMPOTENCY",
      "THREADLINE_REPLAY_JOBS",
      "THREADLINE_ORDERS", // the production orchestrator's (its manifest)
      "THREADLINE_GENEALOGY_LEASES", // the genealogy builder's (its manifest)
      "THREADLINE_QUALITY", // the quality service's own (its manifest)
      "THREADLINE_CONSOLE_SESSIONS", // the ops console's sessions (its manifest)
    ]);
    for (const s of Object.values(local.streams)) assert.equal(s.replicas, 1);
    for (const k of Object.values(local.kv)) assert.equal(k.replicas, 1);
    for (const s of Object.values(production.streams)) assert.equal(s.replicas, 3);
    for (const k of Object.values(production.kv)) assert.equal(k.replicas, 3);
    const r5 = declarationsWithExamples({ profile: "production", replicas: 5 });
    assert.equal(r5.streams["MFG_MACHINE"]?.replicas, 5);
  });

  test("local size caps fit a 1 GiB test server; production caps are larger", () => {
    const sum = (d: Declarations) =>
      Object.values(d.streams).reduce((n, s) => n + Math.max(s.maxBytes, 0), 0) +
      Object.values(d.kv).reduce((n, k) => n + Math.max(k.maxBytes ?? 0, 0), 0);
    assert.ok(
      sum(declarationsWithExamples()) < 1024 ** 3,
      `local total ${sum(declarationsWithExamples())} bytes`,
    );
    assert.ok(sum(declarationsWithExamples({ profile: "production" })) > 100 * 1024 ** 3);
  });

  test("telemetry is short-lived and discards old; production and quality are long-kept and refuse when full", () => {
    const d = declarationsWithExamples();
    const days = (name: string) => parseDuration(d.streams[name]?.maxAge ?? "0s") / 86_400_000;
    assert.equal(d.streams["MFG_MACHINE"]?.discard, "old");
    assert.ok(days("MFG_MACHINE") <= 14);
    for (const name of ["MFG_PRODUCTION", "MFG_QUALITY", "MFG_INVENTORY"]) {
      assert.equal(d.streams[name]?.discard, "new", name);
      assert.ok(days(name) >= 365, name);
    }
    assert.equal(days(DLQ_STREAM), 30);
    assert.equal(d.streams["MFG_MACHINE"]?.duplicateWindow, "2h");
    assert.equal(d.streams["MFG_PRODUCTION"]?.duplicateWindow, "24h");
    assert.equal(d.kv["THREADLINE_IDEMPOTENCY"]?.ttl, d.streams[DLQ_STREAM]?.maxAge);
  });

  test("every catalog event, and every dead letter, lands in exactly one stream: its domain's", () => {
    const d = declarationsWithExamples();
    for (const type of EVENT_TYPES) {
      const subject = subjectFor(type, "plant1", "line1", "m1");
      const owners = Object.entries(d.streams).filter(([, s]) =>
        s.subjects.some((p) => subjectWithin(subject, p)),
      );
      assert.deepEqual(
        owners.map(([n]) => n),
        [domainStream(type.split(".")[1] as string)],
        type,
      );
    }
    const dead = dlqSubject("MFG_PRODUCTION", "odoo-connector-production-reported");
    assert.deepEqual(
      Object.entries(d.streams)
        .filter(([, s]) => s.subjects.some((p) => subjectWithin(dead, p)))
        .map(([n]) => n),
      [DLQ_STREAM],
    );
  });
});

describe("streams declarations - validation names the offending key", () => {
  test("two streams whose subjects overlap", () => {
    const problems = problemsOf(
      edited((d) => {
        d.streams["MFG_EXTRA"] = {
          ...(d.streams["MFG_QUALITY"] as Mutable<Declarations>["streams"][string]),
        };
        d.streams["MFG_EXTRA"].subjects = ["mfg.quality.inspection_recorded.*"];
      }),
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] as string,
      /^streams\.MFG_EXTRA\.subjects\[0\]: .*overlaps mfg\.quality\.> of streams\.MFG_QUALITY/,
    );
  });

  test("overlapping subjects within one stream", () => {
    const problems = problemsOf(
      edited((d) => {
        (d.streams["MFG_MACHINE"] as { subjects: string[] }).subjects.push("mfg.machine.telemetry_sampled.>");
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.split(":")[0]),
      ["streams.MFG_MACHINE.subjects[1]"],
    );
  });

  test("a consumer filter outside its stream, or on an undeclared stream", () => {
    const problems = problemsOf(
      edited((d) => {
        (d.consumers["quality-service-quality"] as { filterSubjects: string[] }).filterSubjects = [
          "mfg.shipping.shipment_requested.>",
        ];
        (d.consumers["genealogy-builder-inventory"] as { stream: string }).stream = "MFG_NOWHERE";
      }),
    );
    assert.equal(problems.length, 2);
    assert.match(
      problems.find((p) => p.startsWith("consumers.quality-service-quality")) ?? "",
      /^consumers\.quality-service-quality\.filterSubjects\[0\]: mfg\.shipping\.shipment_requested\.> is not inside the subjects of stream MFG_QUALITY/,
    );
    assert.match(
      problems.find((p) => p.startsWith("consumers.genealogy-builder-inventory")) ?? "",
      /^consumers\.genealogy-builder-inventory\.stream: stream MFG_NOWHERE is not declared/,
    );
  });

  test("a floor filter that does not cover every filter subject, or on a durable with one filter", () => {
    const problems = problemsOf(
      edited((d) => {
        (
          d.consumers["odoo-connector-production-reported-p0"] as { floorFilterSubject: string }
        ).floorFilterSubject = "mfg.production.production_reported.>";
        (d.consumers["quality-service-quality"] as { floorFilterSubject: string }).floorFilterSubject =
          "mfg.quality.>";
      }),
    );
    assert.deepEqual(problems.sort(), [
      "consumers.odoo-connector-production-reported-p0.floorFilterSubject: mfg.production.production_reported.> does not cover the filter subject mfg.production.production_run_ended.>",
      "consumers.quality-service-quality.floorFilterSubject: is only for a durable with more than one filter subject",
    ]);
  });

  test("bad stream, consumer and bucket names", () => {
    const problems = problemsOf(
      edited((d) => {
        d.streams["mfg machine"] = d.streams["MFG_MACHINE"] as Mutable<Declarations>["streams"][string];
        delete d.streams["MFG_MACHINE"];
        for (const [name, c] of Object.entries(d.consumers))
          if (c.stream === "MFG_MACHINE") delete d.consumers[name];
        d.consumers["Odoo_Poster"] = d.consumers["odoo-connector-production-reported-p0"] as Mutable<
          Declarations["consumers"][string]
        >;
        delete d.consumers["odoo-connector-production-reported-p0"];
        d.kv["schemas.v1"] = d.kv["THREADLINE_SCHEMAS"] as Mutable<Declarations["kv"][string]>;
        delete d.kv["THREADLINE_SCHEMAS"];
        d.streams["KV_SNEAKY"] = {
          ...(d.streams["MFG_DLQ"] as Mutable<Declarations>["streams"][string]),
          subjects: ["sneaky.>"],
        };
      }),
    );
    const keys = problems.map((p) => p.split(":")[0]);
    assert.deepEqual(keys.sort(), [
      "consumers.Odoo_Poster",
      "kv.schemas.v1",
      "streams.KV_SNEAKY",
      "streams.mfg machine",
    ]);
    assert.match(problems.find((p) => p.startsWith("streams.KV_SNEAKY")) ?? "", /reserved for KV buckets/);
  });

  test("invalid subject syntax, durations and unknown fields", () => {
    const problems = problemsOf(
      edited((d) => {
        (d.streams["MFG_SHIPPING"] as { subjects: string[] }).subjects = ["mfg.>.shipping"];
        (d.streams["MFG_DLQ"] as { maxAge: string }).maxAge = "30 days";
        (d.kv["THREADLINE_SCHEMAS"] as Record<string, unknown>)["histroy"] = 3;
      }),
    );
    const keys = problems.map((p) => p.split(":")[0]).sort();
    assert.deepEqual(keys, ["kv.THREADLINE_SCHEMAS", "streams.MFG_DLQ.maxAge"]);
    assert.match(problems.join("\n"), /histroy/);
    // Shape errors come first; once fixed, the subject is reported.
    const subject = problemsOf(
      edited((d) => {
        (d.streams["MFG_SHIPPING"] as { subjects: string[] }).subjects = ["mfg.>.shipping"];
      }),
    );
    assert.deepEqual(subject, [
      `streams.MFG_SHIPPING.subjects[0]: subject has '>' before its last token in "mfg.>.shipping"`,
    ]);
  });

  test("rules the server enforces: duplicate window ≤ max age, backoff vs ack wait and max deliver", () => {
    const problems = problemsOf(
      edited((d) => {
        (d.streams["MFG_MACHINE"] as { duplicateWindow: string }).duplicateWindow = "8d";
        const c = d.consumers["quality-service-quality"] as { ackWait: string; maxDeliver: number };
        c.ackWait = "45s";
        c.maxDeliver = 3;
      }),
    );
    assert.deepEqual(problems.map((p) => p.split(":")[0]).sort(), [
      "consumers.quality-service-quality.ackWait",
      "consumers.quality-service-quality.maxDeliver",
      "streams.MFG_MACHINE.duplicateWindow",
    ]);
    assert.match(problems.join("\n"), /replaces ack_wait by the first backoff step/);
  });

  test("a DLQ too small for another stream's largest message", () => {
    const problems = problemsOf(
      edited((d) => {
        (d.streams[DLQ_STREAM] as { maxMsgSize: number }).maxMsgSize = 256 * 1024;
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.split(":")[0]),
      [`streams.${DLQ_STREAM}.maxMsgSize`, `streams.${DLQ_STREAM}.maxMsgSize`],
    );
    assert.match(problems[0] as string, /MFG_MACHINE/);
    assert.match(problems[1] as string, /THREADLINE_REPLAY/); // a replayed copy can be dead-lettered too
  });
});

describe("streams declarations - subjects and durations", () => {
  test("overlap: wildcards match across tokens the way the server matches them", () => {
    assert.equal(subjectsOverlap("mfg.>", "mfg.machine.x"), true);
    assert.equal(subjectsOverlap("mfg.*.x", "mfg.machine.*"), true);
    assert.equal(subjectsOverlap("mfg.machine.>", "mfg.production.>"), false);
    assert.equal(subjectsOverlap("mfg.machine", "mfg.machine.>"), false);
    assert.equal(subjectsOverlap("a.b", "a.b.c"), false);
    assert.equal(subjectsOverlap("a.*", "a.b"), true);
  });

  test("within: a filter is inside a stream subject only if every subject it matches is", () => {
    assert.equal(subjectWithin("mfg.production.production_reported.>", "mfg.production.>"), true);
    assert.equal(subjectWithin("mfg.production.>", "mfg.production.>"), true);
    assert.equal(subjectWithin("mfg.>", "mfg.production.>"), false);
    assert.equal(subjectWithin("mfg.*.x", "mfg.production.>"), false);
    assert.equal(subjectWithin("mfg.a.x", "mfg.*.x"), true);
    assert.equal(subjectWithin("mfg.a.x.y", "mfg.*.x"), false);
  });

  test("durations parse and print in the largest exact unit", () => {
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("400d"), 400 * 86_400_000);
    assert.equal(formatDuration(parseDuration("90m")), "90m");
    assert.equal(formatDuration(parseDuration("120m")), "2h");
    assert.equal(formatDuration(1500), "1500ms");
    assert.throws(() => parseDuration("1.5h"), /not a duration/);
  });
});

describe("streams declarations - services declare their own durables, buckets and streams in manifests", () => {
  test("streams/ declares only what is shared: the domain, dead-letter and audit streams, no durable, the shared buckets", () => {
    const shared = declarations();
    assert.deepEqual(Object.keys(shared.streams), [
      "MFG_MACHINE",
      "MFG_PRODUCTION",
      "MFG_INVENTORY",
      "MFG_QUALITY",
      "MFG_SHIPPING",
      DLQ_STREAM,
      "THREADLINE_AUDIT",
      "THREADLINE_REPLAY",
    ]);
    assert.deepEqual(Object.keys(shared.consumers), []);
    assert.deepEqual(Object.keys(shared.kv), [
      "THREADLINE_SCHEMAS",
      "THREADLINE_CONNECTOR_STATE",
      "THREADLINE_IDEMPOTENCY",
      "THREADLINE_REPLAY_JOBS",
    ]);
  });

  test("the Odoo connector owns MFG_MASTERDATA: its manifest's settings, the profile's replicas and size cap", () => {
    assert.ok(odooConnectorManifest.streams[MASTERDATA_STREAM], "declared in the connector's manifest");
    const local = platformDeclarations().streams[MASTERDATA_STREAM];
    const production = platformDeclarations({ profile: "production" }).streams[MASTERDATA_STREAM];
    assert.deepEqual(
      [local?.replicas, local?.maxBytes, production?.replicas, production?.maxBytes],
      [1, 32 * MiB, 3, 5 * GiB],
    );
    assert.deepEqual(
      [production?.maxMsgsPerSubject, production?.maxAge, production?.discard, production?.duplicateWindow],
      [1, "0s", "new", "24h"],
    );
  });

  test("the platform's declarations are the shared ones plus every manifest's, with the profile's replicas", () => {
    const d = platformDeclarations({ profile: "production" });
    for (const [durable, declared] of Object.entries(odooConnectorManifest.consumers)) {
      const { partitions, ...c } = declared as typeof declared & { partitions?: number };
      if (partitions === undefined) assert.deepEqual(d.consumers[durable], c);
      else {
        // A partitioned durable is its partitions, each with the durable's settings.
        assert.equal(d.consumers[durable], undefined);
        for (let i = 0; i < partitions; i++)
          assert.deepEqual(d.consumers[`${durable}-p${i}`], {
            ...c,
            description: `${c.description} (partition ${i} of ${partitions})`,
            partitionOf: { durable, index: i, count: partitions },
          });
      }
    }
    const withExample = declarationsWithExamples({ profile: "production" });
    assert.equal(withExample.kv["THREADLINE_QUALITY"]?.replicas, 3);
  });

  test("a durable or bucket claimed twice is refused naming both owners; a durable is named after its service", () => {
    const thief = serviceManifest({
      service: "thief",
      description: "claims what is not its own",
      kv: { THREADLINE_SCHEMAS: { description: "mine", history: 1, storage: "file" } },
    });
    const twin = { ...qualityServiceExample, service: "quality-service-twin" };
    const problems = refused(() =>
      declarations({ manifests: [qualityServiceExample, { ...twin, kv: {} }, thief] }),
    );
    assert.deepEqual(problems, [
      "consumers.quality-service-telemetry: declared by quality-service-twin and by quality-service: a name has one owner",
      "consumers.quality-service-production: declared by quality-service-twin and by quality-service: a name has one owner",
      "consumers.quality-service-quality: declared by quality-service-twin and by quality-service: a name has one owner",
      "consumers.quality-service-shipping: declared by quality-service-twin and by quality-service: a name has one owner",
      "consumers.quality-service-inventory: declared by quality-service-twin and by quality-service: a name has one owner",
      "kv.THREADLINE_SCHEMAS: declared by thief and by streams/ (shared): a name has one owner",
    ]);
    const misnamed = refused(() =>
      serviceManifest({
        service: "order-progress",
        description: "x",
        consumers: { progress: { ...qualityServiceExample.consumers["quality-service-quality"] } },
      }),
    );
    assert.deepEqual(misnamed, [
      "manifests.order-progress.consumers.progress: a durable's name starts with its service's (order-progress-…)",
    ]);
  });

  test("a manifest's stream is declared with the profile's replicas, and its size cap per profile or fixed", () => {
    const scrap = scrapTracker();
    const local = declarations({ manifests: [scrap] }).streams["MFG_SCRAP"];
    const production = declarations({ profile: "production", manifests: [scrap] }).streams["MFG_SCRAP"];
    assert.deepEqual(
      [local?.replicas, local?.maxBytes, production?.replicas, production?.maxBytes],
      [1, 16 * MiB, 3, GiB],
    );
    const r5 = declarations({ profile: "production", replicas: 5, manifests: [scrap] });
    assert.equal(r5.streams["MFG_SCRAP"]?.replicas, 5);
    assert.ok(production);
    const { replicas: _r, maxBytes: _b, ...settings } = production;
    const { maxBytes: _m, ...declared } = SCRAP_STREAM;
    assert.deepEqual(settings, declared);
    const fixed = scrapTracker({ ...SCRAP_STREAM, maxBytes: 8 * MiB });
    for (const profile of ["local", "production"] as const)
      assert.equal(declarations({ profile, manifests: [fixed] }).streams["MFG_SCRAP"]?.maxBytes, 8 * MiB);
  });

  test("a stream claimed by two manifests, or by a manifest and streams/, is refused naming both owners", () => {
    const twin = { ...scrapTracker(), service: "scrap-tracker-twin" };
    const thief = serviceManifest({
      service: "thief",
      description: "claims what is not its own",
      streams: { MFG_PRODUCTION: { ...SCRAP_STREAM, subjects: ["mfg.production.>"] } },
    });
    assert.deepEqual(
      refused(() => declarations({ manifests: [scrapTracker(), twin, thief] })),
      [
        "streams.MFG_SCRAP: declared by scrap-tracker-twin and by scrap-tracker: a name has one owner",
        "streams.MFG_PRODUCTION: declared by thief and by streams/ (shared): a name has one owner",
      ],
    );
  });

  test("a manifest's stream is validated with the shared ones: subjects overlapping a shared stream are refused, naming the manifest", () => {
    const greedy = scrapTracker({ ...SCRAP_STREAM, subjects: ["mfg.quality.>", "mfg.scrap.>"] });
    assert.deepEqual(
      refused(() => declarations({ manifests: [greedy] })),
      [
        "streams.MFG_SCRAP.subjects[0]: subject mfg.quality.> overlaps mfg.quality.> of streams.MFG_QUALITY.subjects[0] (a subject belongs to one stream); in the manifest of scrap-tracker",
      ],
    );
  });

  test("a manifest's stream leaves replicas to the profile and gives maxBytes as bytes or per profile", () => {
    const problems = refused(() =>
      serviceManifest({
        service: "odd-sizes",
        description: "x",
        streams: {
          MFG_ODD_A: { ...SCRAP_STREAM, subjects: ["mfg.odd_a.>"], replicas: 3 } as never,
          MFG_ODD_B: { ...SCRAP_STREAM, subjects: ["mfg.odd_b.>"], maxBytes: { production: GiB } } as never,
        },
      }),
    );
    assert.deepEqual(problems, [
      "manifests.odd-sizes.streams.MFG_ODD_A.replicas: comes from the environment's profile: leave it out",
      "manifests.odd-sizes.streams.MFG_ODD_B.maxBytes: must be bytes (-1 unlimited) or { production, local } bytes",
    ]);
  });
});
