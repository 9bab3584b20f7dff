/**
 * The schema registry, on a JetStream KV bucket:
 *   `subjects.<event type>` -> { versions: [{ version, fingerprint, registeredAt }], and the mode when set: compatibility, compatibilitySetAt }
 *   `schemas.<fingerprint>` -> { fingerprint, schema (the text as written), canonical }
 * Subject records change only by compare-and-set on their KV revision, so concurrent registrations
 * can never lose or corrupt a version; schema records are immutable and written first, so a
 * subject never names a fingerprint whose text is missing.
 */

import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AvroSchemaJson, parseSchemaText, typeForSchema } from "./avro.js";
import type { WriterSchema, WriterSchemaSource } from "./codec.js";
import {
  type AvroSchema,
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  type CompatibilityReport,
  checkCompatibility,
  DEFAULT_COMPATIBILITY_MODE,
  formatReport,
} from "./compatibility.js";
import { ContractErrorCode, ThreadlineError } from "./errors.js";
import { canonicalForm, fingerprintHex } from "./fingerprint.js";

export const REGISTRY_BUCKET = "THREADLINE_SCHEMAS";
export const DEFAULT_COMPATIBILITY: CompatibilityMode = DEFAULT_COMPATIBILITY_MODE;
/** Error code of a write on a registry opened with `readOnly`. */
export const REGISTRY_READ_ONLY = ContractErrorCode.RegistryReadOnly;

export interface SubjectVersion {
  readonly version: number;
  readonly fingerprint: string;
  readonly registeredAt: string;
}

export interface SubjectRecord {
  readonly subject: string;
  /** The mode checks apply: the one set for the subject, else the registry's default. */
  readonly compatibility: CompatibilityMode;
  /** Whether someone set `compatibility` for this subject (else it is the default). */
  readonly compatibilitySet: boolean;
  readonly versions: readonly SubjectVersion[];
}

/**
 * The subject as stored. A mode is stored only when someone sets it (`setCompatibility`, or
 * `register` with a mode), with the time: a subject following the default follows a new default too.
 * Records written before `compatibilitySetAt` existed stored the default of their time with every
 * registration; without that field their mode is not honoured (set it again deliberately).
 */
interface StoredSubject {
  readonly subject: string;
  readonly compatibility?: CompatibilityMode;
  readonly compatibilitySetAt?: string;
  readonly versions: readonly SubjectVersion[];
}

function subjectRecord(stored: StoredSubject): SubjectRecord {
  const set = stored.compatibilitySetAt !== undefined && stored.compatibility !== undefined;
  return {
    subject: stored.subject,
    compatibility: set ? (stored.compatibility as CompatibilityMode) : DEFAULT_COMPATIBILITY,
    compatibilitySet: set,
    versions: stored.versions,
  };
}

/** The stored mode fields to carry over when a subject record is rewritten. */
function storedMode(
  stored: StoredSubject | undefined,
): Pick<StoredSubject, "compatibility" | "compatibilitySetAt"> {
  return stored?.compatibilitySetAt !== undefined && stored.compatibility !== undefined
    ? { compatibility: stored.compatibility, compatibilitySetAt: stored.compatibilitySetAt }
    : {};
}

interface SchemaRecord {
  readonly fingerprint: string;
  readonly schema: string;
  readonly canonical: string;
  /** Canonical form plus the attributes the spec's form drops but that change meaning (decimal scale). */
  readonly identity: string;
}

export interface RegisteredSchema extends WriterSchema {
  readonly subject: string;
  readonly version: number;
}

export interface RegisterResult extends RegisteredSchema {
  /** False when the identical schema was already registered (registration is idempotent). */
  readonly created: boolean;
}

/** A registration refused by the subject's compatibility mode; `report` names each field and rule. */
export class IncompatibleSchemaError extends ThreadlineError {
  constructor(
    readonly subject: string,
    readonly report: CompatibilityReport,
  ) {
    super(ContractErrorCode.Incompatible, `schema refused for ${subject}: ${formatReport(report)}`);
  }
}

/** The registry's state does not allow the operation (e.g. a fingerprint collision). */
export class RegistryConflictError extends ThreadlineError {
  constructor(message: string) {
    super(ContractErrorCode.RegistryConflict, message);
  }
}

export class RegistryNotFoundError extends ThreadlineError {
  constructor(what: string) {
    super(ContractErrorCode.RegistryNotFound, `${what} is not in the schema registry`);
  }
}

export interface SchemaRegistryOptions {
  /** @default "THREADLINE_SCHEMAS" */
  bucket?: string;
  /**
   * KV history kept per key (old subject records, for audit).
   * @default 10
   */
  history?: number;
  /** Replicas of the KV bucket. @default 1 */
  replicas?: number;
  /** JetStream domain (a leaf node's JetStream). @default none */
  domain?: string;
  /** Attempts at a compare-and-set before giving up under contention. @default 20 */
  casAttempts?: number;
  /**
   * Open the existing bucket for reading only (what services do): never creates or changes it, so the
   * NATS user needs no stream-create rights — only `$JS.API.STREAM.INFO.KV_<bucket>` (the existence check),
   * `$JS.API.STREAM.MSG.GET.KV_<bucket>` (reads) and an ephemeral consumer for listing subjects (see
   * docs/security.md). `register` and `setCompatibility` then refuse. A missing bucket is an error.
   * @default false (open, creating the bucket when missing: the CLI, the demo, tests)
   */
  readOnly?: boolean;
}

/** Attributes that change how bytes are read but that Parsing Canonical Form strips. */
function identityOf(json: AvroSchemaJson): string {
  const keep = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(keep);
    if (s && typeof s === "object") {
      const o = s as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) {
        if (k === "doc" || k === "aliases" || k === "default" || k === "order") continue;
        out[k] = keep(o[k]);
      }
      return out;
    }
    return s;
  };
  return JSON.stringify(keep(json));
}

const encoder = new TextEncoder();

export class SchemaRegistry implements WriterSchemaSource {
  readonly #kv: KV;
  readonly #casAttempts: number;
  readonly #readOnly: boolean;
  readonly #schemaCache = new Map<string, SchemaRecord>();

  private constructor(kv: KV, casAttempts: number, readOnly = false) {
    this.#kv = kv;
    this.#casAttempts = casAttempts;
    this.#readOnly = readOnly;
  }

  /** Opens the registry bucket, creating it when missing (or, with `readOnly`, binding to the existing one). */
  static async open(nc: NatsConnection, options: SchemaRegistryOptions = {}): Promise<SchemaRegistry> {
    if (options.readOnly) return SchemaRegistry.#openReadOnly(nc, options);
    const kvm = new Kvm(options.domain ? jetstream(nc, { domain: options.domain }) : nc);
    const kv = await kvm.create(options.bucket ?? REGISTRY_BUCKET, {
      history: options.history ?? 10,
      replicas: options.replicas ?? 1,
      description: "Threadline schema registry: subjects and schemas by fingerprint",
    });
    return new SchemaRegistry(kv, options.casAttempts ?? 20);
  }

  /**
   * `kvm.open` binds without any API call and reads with `STREAM.MSG.GET` (not direct gets, whose use
   * would depend on the bucket's `allow_direct`); one `STREAM.INFO` first makes a missing bucket an error
   * at startup instead of at the first unknown fingerprint. `checkAPI: false`: no `$JS.API.INFO`.
   */
  static async #openReadOnly(nc: NatsConnection, options: SchemaRegistryOptions): Promise<SchemaRegistry> {
    const bucket = options.bucket ?? REGISTRY_BUCKET;
    const jsOptions = { ...(options.domain ? { domain: options.domain } : {}), checkAPI: false };
    const jsm = await jetstreamManager(nc, jsOptions);
    try {
      await jsm.streams.info(`KV_${bucket}`);
    } catch (cause) {
      if (cause instanceof JetStreamApiError && cause.code === JetStreamApiCodes.StreamNotFound)
        throw new ThreadlineError(
          ContractErrorCode.RegistryNotFound,
          `the schema registry bucket ${bucket} does not exist: create it with \`threadline streams apply\` (services open it read-only and never create it)`,
          { cause },
        );
      throw cause;
    }
    const kv = await new Kvm(jetstream(nc, jsOptions)).open(bucket);
    return new SchemaRegistry(kv, options.casAttempts ?? 20, true);
  }

  #assertWritable(what: string): void {
    if (this.#readOnly)
      throw new ThreadlineError(
        REGISTRY_READ_ONLY,
        `cannot ${what}: the schema registry was opened read-only (services read it; \`threadline contracts register\` writes it)`,
      );
  }

  async #getJson<T>(key: string): Promise<{ value: T; revision: number } | undefined> {
    const entry = await this.#kv.get(key);
    if (entry?.operation !== "PUT") return undefined;
    return { value: entry.json<T>(), revision: entry.revision };
  }

  async subject(subject: string): Promise<SubjectRecord | undefined> {
    const stored = (await this.#getJson<StoredSubject>(`subjects.${subject}`))?.value;
    return stored ? subjectRecord(stored) : undefined;
  }

  async #schema(fingerprint: string): Promise<SchemaRecord | undefined> {
    const cached = this.#schemaCache.get(fingerprint);
    if (cached) return cached;
    const found = (await this.#getJson<SchemaRecord>(`schemas.${fingerprint}`))?.value;
    if (found) this.#schemaCache.set(fingerprint, found);
    return found;
  }

  /** The schemas of a subject's versions, oldest first, as compatibility checks want them. */
  async #versionSchemas(subject: string, versions: readonly SubjectVersion[]): Promise<AvroSchemaJson[]> {
    const previous: AvroSchemaJson[] = [];
    for (const v of versions) {
      const s = await this.#schema(v.fingerprint);
      if (!s)
        throw new RegistryConflictError(
          `subject ${subject} version ${v.version} names fingerprint ${v.fingerprint} whose schema is missing`,
        );
      previous.push(parseSchemaText(s.schema, `${subject} v${v.version}`));
    }
    return previous;
  }

  /** Writes the immutable schema record; tolerates a concurrent identical write. */
  async #putSchema(record: SchemaRecord): Promise<void> {
    const existing = await this.#schema(record.fingerprint);
    if (existing) {
      if (existing.identity !== record.identity) {
        throw new RegistryConflictError(
          `fingerprint ${record.fingerprint} is already registered for a schema that differs in logical-type attributes (e.g. decimal precision/scale), which Avro's canonical form ignores; give the field a new name or type`,
        );
      }
      return;
    }
    try {
      await this.#kv.create(`schemas.${record.fingerprint}`, encoder.encode(JSON.stringify(record)));
    } catch (err) {
      // Lost a race with another registration of the same fingerprint: check it is the same schema.
      this.#schemaCache.delete(record.fingerprint);
      const now = await this.#schema(record.fingerprint);
      if (!now) throw err;
      if (now.identity !== record.identity)
        throw new RegistryConflictError(`fingerprint ${record.fingerprint} collides`);
    }
  }

  /**
   * Registers `schemaText` under `subject`. Idempotent: an identical schema returns its existing
   * version. Refused with IncompatibleSchemaError when the subject's mode forbids it.
   */
  async register(
    subject: string,
    schemaText: string,
    options: { compatibility?: CompatibilityMode } = {},
  ): Promise<RegisterResult> {
    this.#assertWritable(`register ${subject}`);
    const json = parseSchemaText(schemaText, subject);
    typeForSchema(json, subject); // throws SchemaInvalidError naming the problem
    const record: SchemaRecord = {
      fingerprint: fingerprintHex(json),
      schema: schemaText,
      canonical: canonicalForm(json, subject),
      identity: identityOf(json),
    };
    for (let attempt = 0; attempt < this.#casAttempts; attempt++) {
      const current = await this.#getJson<StoredSubject>(`subjects.${subject}`);
      const versions = current?.value.versions ?? [];
      const existing = versions.find((v) => v.fingerprint === record.fingerprint);
      if (existing) {
        await this.#putSchema(record); // detects a same-fingerprint, different-meaning schema
        return {
          subject,
          version: existing.version,
          fingerprint: existing.fingerprint,
          schema: (await this.#schema(existing.fingerprint))?.schema ?? schemaText,
          created: false,
        };
      }
      const kept = current ? subjectRecord(current.value) : undefined;
      // A mode asked for at registration applies to a subject created now, never overrides a set one.
      const chosen = current === undefined ? options.compatibility : undefined;
      const mode = chosen ?? kept?.compatibility ?? DEFAULT_COMPATIBILITY;
      const previous = await this.#versionSchemas(subject, versions);
      const report = checkCompatibility(json as AvroSchema, previous as AvroSchema[], mode);
      if (!report.compatible) throw new IncompatibleSchemaError(subject, report);
      await this.#putSchema(record);
      const version = (versions.at(-1)?.version ?? 0) + 1;
      const next: StoredSubject = {
        subject,
        ...(chosen
          ? { compatibility: chosen, compatibilitySetAt: new Date().toISOString() }
          : storedMode(current?.value)),
        versions: [
          ...versions,
          { version, fingerprint: record.fingerprint, registeredAt: new Date().toISOString() },
        ],
      };
      const data = encoder.encode(JSON.stringify(next));
      try {
        if (current) await this.#kv.update(`subjects.${subject}`, data, current.revision);
        else await this.#kv.create(`subjects.${subject}`, data);
        return { subject, version, fingerprint: record.fingerprint, schema: schemaText, created: true };
      } catch {
        // Someone else changed the subject since we read it: re-read and decide again.
      }
    }
    throw new RegistryConflictError(
      `could not register ${subject}: ${this.#casAttempts} concurrent updates in a row; try again`,
    );
  }

  /** Would `schemaText` be accepted under `subject`? Writes nothing. */
  async check(
    subject: string,
    schemaText: string,
  ): Promise<CompatibilityReport & { alreadyRegistered?: number; compatibilitySet: boolean }> {
    const json = parseSchemaText(schemaText, subject);
    typeForSchema(json, subject);
    const current = await this.subject(subject);
    const fp = fingerprintHex(json);
    const same = current?.versions.find((v) => v.fingerprint === fp);
    const previous = await this.#versionSchemas(subject, current?.versions ?? []);
    const report = checkCompatibility(
      json as AvroSchema,
      previous as AvroSchema[],
      current?.compatibility ?? DEFAULT_COMPATIBILITY,
    );
    const compatibilitySet = current?.compatibilitySet ?? false;
    return same
      ? { ...report, alreadyRegistered: same.version, compatibilitySet }
      : { ...report, compatibilitySet };
  }

  /** Sets a subject's compatibility mode (creating an empty subject record if needed). */
  async setCompatibility(subject: string, mode: CompatibilityMode): Promise<void> {
    this.#assertWritable(`set the compatibility of ${subject}`);
    if (!COMPATIBILITY_MODES.includes(mode)) throw new RangeError(`unknown compatibility mode ${mode}`);
    for (let attempt = 0; attempt < this.#casAttempts; attempt++) {
      const current = await this.#getJson<StoredSubject>(`subjects.${subject}`);
      const next: StoredSubject = {
        subject,
        compatibility: mode,
        compatibilitySetAt: new Date().toISOString(),
        versions: current?.value.versions ?? [],
      };
      const data = encoder.encode(JSON.stringify(next));
      try {
        if (current) await this.#kv.update(`subjects.${subject}`, data, current.revision);
        else await this.#kv.create(`subjects.${subject}`, data);
        return;
      } catch {
        // retry on a concurrent change
      }
    }
    throw new RegistryConflictError(`could not set compatibility of ${subject}: too many concurrent updates`);
  }

  /** A subject's schema at `version` (default: latest). */
  async get(subject: string, version?: number): Promise<RegisteredSchema> {
    const record = await this.subject(subject);
    const v =
      version === undefined ? record?.versions.at(-1) : record?.versions.find((x) => x.version === version);
    if (!record || !v)
      throw new RegistryNotFoundError(
        version === undefined ? `subject ${subject}` : `${subject} version ${version}`,
      );
    const s = await this.#schema(v.fingerprint);
    if (!s) throw new RegistryNotFoundError(`schema ${v.fingerprint}`);
    return { subject, version: v.version, fingerprint: v.fingerprint, schema: s.schema };
  }

  /** Every subject with its versions, sorted by name. */
  async list(): Promise<SubjectRecord[]> {
    const keys: string[] = [];
    for await (const k of await this.#kv.keys("subjects.>")) keys.push(k);
    const out: SubjectRecord[] = [];
    for (const k of keys.sort()) {
      const r = await this.#getJson<StoredSubject>(k);
      if (r) out.push(subjectRecord(r.value));
    }
    return out;
  }

  /**
   * Finds a writer schema by fingerprint (WriterSchemaSource), with the subject and version that
   * registered it; `subjectHint` (the message's ce-type) avoids scanning every subject.
   */
  async lookup(fingerprint: string, subjectHint?: string): Promise<WriterSchema | undefined> {
    const s = await this.#schema(fingerprint);
    if (!s) return undefined;
    const found = (record: SubjectRecord | undefined): RegisteredSchema | undefined => {
      const v = record?.versions.find((x) => x.fingerprint === fingerprint);
      return record && v
        ? { subject: record.subject, version: v.version, fingerprint, schema: s.schema }
        : undefined;
    };
    // The hint (the message's ce-type) is almost always right: one read instead of a scan of every subject.
    const hinted = subjectHint ? found(await this.subject(subjectHint)) : undefined;
    if (hinted) return hinted;
    for (const record of await this.list()) {
      const r = found(record);
      if (r) return r;
    }
    return { fingerprint, schema: s.schema };
  }
}
