/**
 * Avro single-object encoding (Avro spec, "Single-object encoding"):
 * `C3 01` | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | Avro binary body.
 * Any Avro implementation can read it; the fingerprint finds the writer schema in the registry.
 */
import type avro from "avsc";
import { type AvroType, parseSchemaText, typeForSchema } from "./avro.js";
import { Catalog, type EventContract } from "./catalog.js";
import { type AvroSchema, canRead } from "./compatibility.js";
import {
  BadMarkerError,
  CorruptBodyError,
  type FieldProblem,
  NotSingleObjectError,
  PayloadInvalidError,
  SchemaUnresolvableError,
  ThreadlineError,
  TrailingBytesError,
  TruncatedBodyError,
  UnknownFingerprintError,
} from "./errors.js";
import { undeclaredFields } from "./undeclared.js";

export const SINGLE_OBJECT_MARKER = Uint8Array.of(0xc3, 0x01);
export const HEADER_LENGTH = 10;

/** A writer schema found by fingerprint: in the local catalog or the registry. */
export interface WriterSchema {
  readonly fingerprint: string;
  /** The schema text as registered. */
  readonly schema: string;
  /** The registry subject (event type) it was registered under, when known. */
  readonly subject?: string;
  /** The version within that subject, when known. */
  readonly version?: number;
}

/** Where the codec finds writer schemas it does not have locally (the registry implements it). */
export interface WriterSchemaSource {
  lookup(fingerprint: string, subjectHint?: string): Promise<WriterSchema | undefined>;
}

export interface DecodedEvent<T = unknown> {
  /** The reader's event type: the catalog contract the value was resolved to, or the writer's subject. */
  readonly eventType: string | undefined;
  readonly value: T;
  readonly writer: WriterSchema;
  /** The Avro type `value` conforms to (the reader's, or the writer's when no reader is known). */
  readonly type: AvroType;
}

export interface EventCodecOptions {
  /**
   * The reader contracts (what this program was built against).
   * @default Catalog.load() — the package's contracts/schemas
   */
  catalog?: Catalog;
  /**
   * Writer schemas not in the catalog: older and newer minor versions, from the registry.
   * @default none: only the catalog's own schemas can be read
   */
  writers?: WriterSchemaSource;
  /**
   * Re-validate every decoded value against the reader schema. avsc already refuses out-of-range enum
   * and union indexes, and the codec refuses truncated bodies and trailing bytes, so this extra pass
   * (about 40% of decode throughput) only matters for hand-built writer schemas.
   * @default false
   */
  verifyDecoded?: boolean;
}

interface WriterEntry {
  readonly writer: WriterSchema;
  readonly type: AvroType;
}

/** Wraps a Uint8Array as a Buffer over the same memory (avsc wants a Buffer; NATS gives a Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the single-object header: the writer fingerprint (16 hex digits) and where the body starts. */
export function readHeader(bytes: Uint8Array): { fingerprint: string; bodyOffset: number } {
  if (bytes.length < HEADER_LENGTH) throw new NotSingleObjectError(bytes.length);
  if (bytes[0] !== 0xc3 || bytes[1] !== 0x01) {
    throw new BadMarkerError(asBuffer(bytes).subarray(0, 2).toString("hex"));
  }
  return {
    fingerprint: asBuffer(bytes).subarray(2, HEADER_LENGTH).toString("hex"),
    bodyOffset: HEADER_LENGTH,
  };
}

/** Lists the fields of `value` that do not fit `type` (empty when valid). */
export function fieldProblems(type: AvroType, value: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  type.isValid(value, {
    errorHook: (path: string[], actual: unknown, t: avro.Type) => {
      problems.push({ path: renderPath(path), expected: describeType(t), actual: renderValue(actual) });
    },
  });
  return problems;
}

function renderPath(path: string[]): string {
  if (path.length === 0) return "$";
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function describeType(t: avro.Type): string {
  const logical = (t as { _logicalTypeName?: string })._logicalTypeName;
  if (logical) return logical;
  if (t.typeName === "abstract:long") return "long";
  if (t.typeName === "enum") return `enum ${(t as avro.types.EnumType).symbols.join("|")}`;
  return t.name ?? t.typeName;
}

function renderValue(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? "invalid" : v.toISOString()})`;
  if (Buffer.isBuffer(v)) return `bytes(${v.length})`;
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Encodes and decodes canonical events. Encoding validates against the catalog schema (nothing
 * invalid is ever produced); decoding resolves the writer's schema to the reader's contract.
 */
export class EventCodec {
  readonly catalog: Catalog;
  readonly #writers: WriterSchemaSource | undefined;
  readonly #verify: boolean;
  readonly #writerCache = new Map<string, WriterEntry>();
  readonly #resolvers = new Map<string, avro.Resolver>();
  #scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(options: EventCodecOptions = {}) {
    this.catalog = options.catalog ?? Catalog.load();
    this.#writers = options.writers;
    this.#verify = options.verifyDecoded ?? false;
    // With a registry, writers are looked up there first (once each) so decoded events can name the
    // registered version; the catalog is the fallback and, without a registry, the only source.
    if (!this.#writers)
      for (const c of this.catalog.list()) this.#writerCache.set(c.fingerprint, this.#catalogEntry(c));
  }

  /** The contract of an event type; throws UnknownEventTypeError. */
  contract(eventType: string): EventContract {
    return this.catalog.get(eventType);
  }

  /**
   * Encodes a payload as a single-object message. Throws PayloadInvalidError listing every bad field
   * (and encodes nothing) when the payload does not fit the schema, or has a field the schema lacks.
   * Fields with a default may be left out: the default is written.
   */
  encode(eventType: string, payload: unknown): Buffer {
    const contract = this.catalog.get(eventType);
    return this.encodeWith(contract, payload);
  }

  encodeWith(contract: EventContract, payload: unknown): Buffer {
    for (;;) {
      const buf = this.#scratch;
      buf[0] = 0xc3;
      buf[1] = 0x01;
      buf.write(contract.fingerprint, 2, "hex");
      let end: number;
      try {
        end = contract.type.encode(payload, buf, HEADER_LENGTH);
      } catch (cause) {
        const problems = fieldProblems(contract.type, payload);
        if (problems.length === 0)
          problems.push({ path: "$", expected: contract.name, actual: String(cause) });
        throw new PayloadInvalidError(contract.eventType, problems);
      }
      if (end >= 0) {
        const undeclared = undeclaredFields(contract.type, payload);
        if (undeclared.length > 0) throw new PayloadInvalidError(contract.eventType, undeclared);
        return Buffer.from(buf.subarray(0, end));
      }
      // Negative: the value needs -end more bytes than the scratch buffer has.
      this.#scratch = Buffer.allocUnsafe(Math.max(buf.length * 2, buf.length - end));
    }
  }

  /** Returns the writer schema of a message, from cache, catalog or the registry. */
  async writerOf(bytes: Uint8Array, subjectHint?: string): Promise<WriterSchema> {
    const { fingerprint } = readHeader(bytes);
    return (await this.#writerEntry(fingerprint, subjectHint)).writer;
  }

  async #writerEntry(fingerprint: string, subjectHint?: string): Promise<WriterEntry> {
    const cached = this.#writerCache.get(fingerprint);
    if (cached) return cached;
    const writer = await this.#writers?.lookup(fingerprint, subjectHint);
    const local = this.catalog.byFingerprint(fingerprint);
    if (!writer && !local) throw new UnknownFingerprintError(fingerprint);
    const entry: WriterEntry = writer
      ? {
          writer: { subject: local?.eventType, ...writer },
          type:
            local?.type ??
            typeForSchema(parseSchemaText(writer.schema, `writer ${fingerprint}`), `writer ${fingerprint}`),
        }
      : this.#catalogEntry(local as EventContract);
    this.#writerCache.set(fingerprint, entry);
    return entry;
  }

  /**
   * Decodes a single-object message. The value is resolved to the reader contract `as` (default: the
   * catalog contract of the writer's subject, else the writer schema itself).
   */
  async decode<T = unknown>(
    bytes: Uint8Array,
    options: { as?: string; subjectHint?: string } = {},
  ): Promise<DecodedEvent<T>> {
    return this.decodeSoon<T>(bytes, options);
  }

  /**
   * `decode` without a promise when the writer is already known (the catalog's, or looked up
   * before): a hot path decoding thousands of events a second saves a promise and a microtask each.
   * Throws the same errors synchronously then; returns a promise only while the writer is looked up.
   */
  decodeSoon<T = unknown>(
    bytes: Uint8Array,
    options: { as?: string; subjectHint?: string } = {},
  ): DecodedEvent<T> | Promise<DecodedEvent<T>> {
    const { fingerprint } = readHeader(bytes);
    const entry = this.#writerCache.get(fingerprint);
    if (entry) return this.#decodeWith(bytes, entry, options.as);
    return this.#writerEntry(fingerprint, options.subjectHint ?? options.as).then((e) =>
      this.#decodeWith<T>(bytes, e, options.as),
    );
  }

  /** Synchronous decode for writers already known (catalog or previously looked up). */
  decodeKnown<T = unknown>(bytes: Uint8Array, options: { as?: string } = {}): DecodedEvent<T> {
    const { fingerprint } = readHeader(bytes);
    const entry = this.#writerCache.get(fingerprint);
    if (!entry) throw new UnknownFingerprintError(fingerprint);
    return this.#decodeWith(bytes, entry, options.as);
  }

  #catalogEntry(c: EventContract): WriterEntry {
    return { writer: { fingerprint: c.fingerprint, schema: c.text, subject: c.eventType }, type: c.type };
  }

  #decodeWith<T>(bytes: Uint8Array, entry: WriterEntry, as: string | undefined): DecodedEvent<T> {
    const { writer } = entry;
    const readerType = as ?? writer.subject;
    const reader = readerType !== undefined ? this.catalog.find(readerType) : undefined;
    if (as !== undefined && !reader) this.catalog.get(as); // throws UnknownEventTypeError
    const buf = asBuffer(bytes);
    let result: { value: unknown; offset: number };
    const type = reader ? reader.type : entry.type;
    try {
      if (!reader || reader.fingerprint === writer.fingerprint) {
        result = type.decode(buf, HEADER_LENGTH);
      } else {
        result = type.decode(buf, HEADER_LENGTH, this.#resolver(reader, entry));
      }
    } catch (cause) {
      if (cause instanceof ThreadlineError) throw cause;
      throw new CorruptBodyError(writer.fingerprint, (cause as Error).message, { cause });
    }
    if (result.offset < 0) throw new TruncatedBodyError(writer.fingerprint);
    if (result.offset < buf.length)
      throw new TrailingBytesError(writer.fingerprint, buf.length - result.offset);
    if (this.#verify) {
      const problems = fieldProblems(type, result.value);
      if (problems.length > 0) {
        const first = problems[0] as FieldProblem;
        throw new CorruptBodyError(
          writer.fingerprint,
          `${first.path} decoded to ${first.actual}, not a valid ${first.expected}`,
        );
      }
    }
    return { eventType: reader?.eventType ?? writer.subject, value: result.value as T, writer, type };
  }

  #resolver(reader: EventContract, entry: WriterEntry): avro.Resolver {
    const key = `${reader.fingerprint}:${entry.writer.fingerprint}`;
    let resolver = this.#resolvers.get(key);
    if (!resolver) {
      try {
        resolver = reader.type.createResolver(entry.type);
      } catch (cause) {
        // avsc says only "cannot read X as Y"; the resolution rules name the field and the rule.
        let problems: ReturnType<typeof canRead> = [];
        try {
          problems = canRead(reader.json as AvroSchema, parseSchemaText(entry.writer.schema) as AvroSchema);
        } catch {
          // a writer schema the rules cannot parse: avsc's message stays the explanation
        }
        throw new SchemaUnresolvableError(entry.writer, reader, problems, { cause });
      }
      this.#resolvers.set(key, resolver);
    }
    return resolver;
  }
}
