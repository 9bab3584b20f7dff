import type { CatalogedErrorCode, ErrorCode } from "./error-catalog.js";

/**
 * The base of every Threadline error: a stable machine-readable `code` from the catalogue
 * (error-catalog.ts, docs/errors.md), a message that says what was wrong and what to do next, and the
 * original `cause` kept for logs.
 */
export class ThreadlineError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Error codes raised by the contracts package. Codes are stable: never reuse a retired one. */
export const ContractErrorCode = {
  SchemaInvalid: "SCHEMA_INVALID",
  PayloadInvalid: "PAYLOAD_INVALID",
  NotSingleObject: "NOT_SINGLE_OBJECT",
  BadMarker: "BAD_MARKER",
  TruncatedBody: "TRUNCATED_BODY",
  TrailingBytes: "TRAILING_BYTES",
  CorruptBody: "CORRUPT_BODY",
  UnknownFingerprint: "UNKNOWN_FINGERPRINT",
  UnknownEventType: "UNKNOWN_EVENT_TYPE",
  SchemaUnresolvable: "SCHEMA_UNRESOLVABLE",
  Incompatible: "SCHEMA_INCOMPATIBLE",
  RegistryConflict: "REGISTRY_CONFLICT",
  RegistryNotFound: "REGISTRY_NOT_FOUND",
  RegistryReadOnly: "REGISTRY_READ_ONLY",
} as const satisfies Record<string, CatalogedErrorCode>;
export type ContractErrorCode = (typeof ContractErrorCode)[keyof typeof ContractErrorCode];

/** A schema file or text that is not a valid Avro schema for Threadline. */
export class SchemaInvalidError extends ThreadlineError {
  constructor(
    readonly source: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(ContractErrorCode.SchemaInvalid, `invalid schema ${source}: ${detail}`, options);
  }
}

/** One field of a payload that does not fit its schema. */
export interface FieldProblem {
  /** Dotted path to the field, `$` for the root, e.g. `quantity.value`, `components[2].lot`. */
  readonly path: string;
  /** The Avro type the schema expects at that path. */
  readonly expected: string;
  /** A short rendering of the value found there. */
  readonly actual: string;
}

/** A payload that does not fit its schema: nothing is encoded or sent. */
export class PayloadInvalidError extends ThreadlineError {
  constructor(
    readonly eventType: string,
    readonly problems: readonly FieldProblem[],
  ) {
    const list = problems.map((p) => `${p.path} (expected ${p.expected}, got ${p.actual})`).join("; ");
    super(ContractErrorCode.PayloadInvalid, `payload for ${eventType} does not fit its schema: ${list}`);
  }
}

/** Bytes too short to be an Avro single-object message (less than the 10-byte header). */
export class NotSingleObjectError extends ThreadlineError {
  constructor(readonly length: number) {
    super(
      ContractErrorCode.NotSingleObject,
      `not an Avro single-object message: ${length} bytes, the header alone needs 10 (C3 01 + 8-byte fingerprint)`,
    );
  }
}

/** The first two bytes are not the single-object marker C3 01. */
export class BadMarkerError extends ThreadlineError {
  constructor(readonly marker: string) {
    super(
      ContractErrorCode.BadMarker,
      `not an Avro single-object message: marker is ${marker}, expected c301`,
    );
  }
}

/** The Avro body ends before the writer schema's data does. */
export class TruncatedBodyError extends ThreadlineError {
  constructor(
    readonly fingerprint: string,
    options?: { cause?: unknown },
  ) {
    super(
      ContractErrorCode.TruncatedBody,
      `Avro body for writer schema ${fingerprint} is truncated or corrupt: it ends before the record does`,
      options,
    );
  }
}

/** The Avro body has bytes left over after the writer schema's record: a wrong schema or corruption. */
export class TrailingBytesError extends ThreadlineError {
  constructor(
    readonly fingerprint: string,
    readonly extra: number,
  ) {
    super(
      ContractErrorCode.TrailingBytes,
      `Avro body for writer schema ${fingerprint} has ${extra} unexpected trailing byte(s): corrupt or written with another schema`,
    );
  }
}

/** No schema with that fingerprint is known to the registry (or the local catalog). */
export class UnknownFingerprintError extends ThreadlineError {
  constructor(readonly fingerprint: string) {
    super(
      ContractErrorCode.UnknownFingerprint,
      `unknown writer schema fingerprint ${fingerprint}: register the schema (threadline contracts register) or check the producer`,
    );
  }
}

/** An event type that the catalog does not define. */
export class UnknownEventTypeError extends ThreadlineError {
  constructor(readonly eventType: string) {
    super(
      ContractErrorCode.UnknownEventType,
      `unknown event type ${eventType}: see \`threadline contracts list\` for the catalog`,
    );
  }
}

/**
 * The writer schema cannot be read with the reader schema (Avro schema resolution failed);
 * `problems` name each field and rule, as `threadline contracts check` does.
 */
export class SchemaUnresolvableError extends ThreadlineError {
  /** The writer's fingerprint. */
  readonly writer: string;
  /** The reader's event type. */
  readonly reader: string;
  constructor(
    writer: { readonly fingerprint: string; readonly subject?: string; readonly version?: number },
    reader: { readonly eventType: string; readonly fingerprint: string },
    readonly problems: readonly { readonly path: string; readonly rule: string; readonly message: string }[],
    options?: { cause?: unknown },
  ) {
    const written =
      writer.version !== undefined ? `version ${writer.version} (${writer.fingerprint})` : writer.fingerprint;
    const why =
      problems.length > 0
        ? problems.map((p) => `${p.message} (${p.rule})`).join("; ")
        : `the schemas are not compatible (${(options?.cause as Error | undefined)?.message ?? "no detail"})`;
    super(
      ContractErrorCode.SchemaUnresolvable,
      `an event written with ${writer.subject ?? "schema"} ${written} cannot be read with this service's ${reader.eventType} (${reader.fingerprint}): ${why}`,
      options,
    );
    this.writer = writer.fingerprint;
    this.reader = reader.eventType;
  }
}

/** The bytes could be read as an Avro body, but what they hold is not a valid value (e.g. an enum index out of range). */
export class CorruptBodyError extends ThreadlineError {
  constructor(
    readonly fingerprint: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      ContractErrorCode.CorruptBody,
      `Avro body for writer schema ${fingerprint} is corrupt: ${detail}`,
      options,
    );
  }
}
