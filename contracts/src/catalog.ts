/**
 * The event catalog: every `.avsc` under `contracts/schemas/<domain>/<Event>.v<major>.avsc`.
 * The file's place names the event: `production/ProductionOrderReleased.v1.avsc` is the CloudEvents
 * type `mfg.production.production_order_released.v1` (the registry subject).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type AvroSchemaJson, type AvroType, parseSchemaText, typeForSchema } from "./avro.js";
import { SchemaInvalidError, UnknownEventTypeError } from "./errors.js";
import { canonicalForm, fingerprintHex } from "./fingerprint.js";
import { SCHEMAS_DIR } from "./paths.js";

export const DOMAINS = ["production", "machine", "inventory", "quality", "shipping"] as const;
export type Domain = (typeof DOMAINS)[number];

/** One event type at one major version, as the working tree declares it. */
export interface EventContract {
  /** CloudEvents `ce-type` and registry subject, e.g. `mfg.production.production_order_released.v1`. */
  readonly eventType: string;
  readonly domain: string;
  /** PascalCase event name, e.g. `ProductionOrderReleased`. */
  readonly name: string;
  readonly major: number;
  /** Path of the `.avsc`, relative to the schemas folder. */
  readonly file: string;
  /** The schema text as written (the registry stores it verbatim). */
  readonly text: string;
  readonly json: AvroSchemaJson;
  readonly canonical: string;
  /** 16 hex digits of the little-endian CRC-64-AVRO fingerprint. */
  readonly fingerprint: string;
  readonly type: AvroType;
}

const FILE_NAME = /^([A-Z][A-Za-z0-9]*)\.v([1-9][0-9]*)\.avsc$/;

/** `ProductionOrderReleased` -> `production_order_released`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

export function eventTypeOf(domain: string, name: string, major: number): string {
  return `mfg.${domain}.${snakeCase(name)}.v${major}`;
}

/** Builds a contract from schema text; `file` is `<domain>/<Event>.v<major>.avsc`. */
export function contractFromText(file: string, text: string): EventContract {
  const parts = file.split("/");
  const match = parts.length === 2 ? FILE_NAME.exec(parts[1] as string) : null;
  if (!match) {
    throw new SchemaInvalidError(file, "schema files must be named <domain>/<EventName>.v<major>.avsc");
  }
  const domain = parts[0] as string;
  const name = match[1] as string;
  const major = Number(match[2]);
  const json = parseSchemaText(text, file);
  if (typeof json !== "object" || Array.isArray(json) || json["type"] !== "record") {
    throw new SchemaInvalidError(file, "an event schema must be a record");
  }
  if (json["name"] !== name) {
    throw new SchemaInvalidError(
      file,
      `record name ${String(json["name"])} must match the file name ${name}`,
    );
  }
  const type = typeForSchema(json, file);
  const canonical = canonicalForm(json, file);
  return {
    eventType: eventTypeOf(domain, name, major),
    domain,
    name,
    major,
    file,
    text,
    json,
    canonical,
    fingerprint: fingerprintHex(json),
    type,
  };
}

function listSchemaFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listSchemaFiles(path));
    else if (entry.endsWith(".avsc")) out.push(path);
  }
  return out;
}

/** The catalog of event contracts, keyed by event type. */
export class Catalog {
  readonly #byType = new Map<string, EventContract>();
  readonly #byFingerprint = new Map<string, EventContract>();

  constructor(contracts: Iterable<EventContract>) {
    for (const c of contracts) {
      if (this.#byType.has(c.eventType)) {
        throw new SchemaInvalidError(c.file, `event type ${c.eventType} is declared twice`);
      }
      this.#byType.set(c.eventType, c);
      this.#byFingerprint.set(c.fingerprint, c);
    }
  }

  /** Loads every schema under `dir` (default: the package's `contracts/schemas`). */
  static load(dir: string = SCHEMAS_DIR): Catalog {
    return new Catalog(
      listSchemaFiles(dir).map((path) =>
        contractFromText(relative(dir, path).split("\\").join("/"), readFileSync(path, "utf8")),
      ),
    );
  }

  get(eventType: string): EventContract {
    const c = this.#byType.get(eventType);
    if (!c) throw new UnknownEventTypeError(eventType);
    return c;
  }

  find(eventType: string): EventContract | undefined {
    return this.#byType.get(eventType);
  }

  byFingerprint(fingerprint: string): EventContract | undefined {
    return this.#byFingerprint.get(fingerprint);
  }

  list(): EventContract[] {
    return [...this.#byType.values()];
  }
}
