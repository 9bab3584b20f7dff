/**
 * A new service's name and everything spelled from it: folder, durable, bucket, identifiers. The name
 * becomes a NATS user, an inbox prefix (`_INBOX_<name>`), a folder, a durable prefix and part of a KV
 * bucket name, so it is held to the strictest of their rules: lower-case kebab.
 */
import { type CatalogedErrorCode, ThreadlineError } from "../../contracts/src/index.js";

/** Error codes of `threadline new service`. Stable: never reuse a retired one. */
export const ScaffoldErrorCode = {
  /** The name is not lower-case kebab, or too long. */
  NameInvalid: "SCAFFOLD_NAME_INVALID",
  /** A service, a test folder or a manifest entry of that name exists already. */
  Exists: "SCAFFOLD_SERVICE_EXISTS",
  /** The target folder is not a Threadline checkout (no services/, no tools/manifests.ts). */
  NotACheckout: "SCAFFOLD_NOT_A_CHECKOUT",
  /** tools/manifests.ts is not in the shape the command knows how to extend. */
  ManifestsUnrecognised: "SCAFFOLD_MANIFESTS_UNRECOGNISED",
} as const satisfies Record<string, CatalogedErrorCode>;
export type ScaffoldErrorCode = (typeof ScaffoldErrorCode)[keyof typeof ScaffoldErrorCode];

/** Why a service could not be created; nothing was written. */
export class ScaffoldError extends ThreadlineError {
  constructor(code: ScaffoldErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * 24 characters (production-orchestrator, the longest planned name, has 23): the generated files'
 * lines that hold the name, such as tools/manifests.ts's import of the manifest, then stay within
 * biome.json's 110 columns, so Biome leaves them as written.
 */
export const MAX_NAME_LENGTH = 24;

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The names a service's files use, all derived from its name. */
export interface ServiceNames {
  /** `my-service`: folder, NATS user, `ce-source`, log and metric label. */
  readonly service: string;
  /** `myService`: the prefix of its identifiers. */
  readonly camel: string;
  /** `myServiceManifest`: what tools/manifests.ts imports. */
  readonly manifestExport: string;
  /** `my-service-reports`: its durable on MFG_PRODUCTION. */
  readonly durable: string;
  /** `THREADLINE_MY_SERVICE_TOTALS`: its KV bucket. */
  readonly bucket: string;
}

/**
 * Checks a service name and derives the others from it.
 * @throws {ScaffoldError} SCAFFOLD_NAME_INVALID saying what is wrong and what would be accepted.
 */
export function serviceNames(name: string): ServiceNames {
  const problem = nameProblem(name);
  if (problem)
    throw new ScaffoldError(
      ScaffoldErrorCode.NameInvalid,
      `service name ${JSON.stringify(name)} ${problem}; use lower-case kebab: letters, digits and single hyphens, starting with a letter (e.g. scrap-tracker)`,
    );
  const words = name.split("-");
  const camel = words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join("");
  return {
    service: name,
    camel,
    manifestExport: `${camel}Manifest`,
    durable: `${name}-reports`,
    bucket: `THREADLINE_${name.toUpperCase().replaceAll("-", "_")}_TOTALS`,
  };
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} characters long, more than ${MAX_NAME_LENGTH}`;
  if (/[A-Z]/.test(name)) return "has upper-case letters";
  if (/[_\s.]/.test(name)) return "has '_', '.' or whitespace";
  if (!/^[a-z]/.test(name)) return "does not start with a letter";
  if (/--/.test(name)) return "has a double hyphen";
  if (/-$/.test(name)) return "ends with a hyphen";
  if (!KEBAB.test(name)) return "has characters other than a-z, 0-9 and -";
  return undefined;
}
