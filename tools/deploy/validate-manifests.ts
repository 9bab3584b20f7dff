/**
 * Offline validation of Kubernetes manifests, as strict as an API server with `--validate=strict`:
 * every document is checked against the schema of its kind — Kubernetes' own (deploy/schemas/
 * kubernetes.json) or the CustomResourceDefinition of its operator (deploy/schemas/crds/: NACK, KEDA,
 * Prometheus Operator, cert-manager) — with unknown fields refused, and a kind without a vendored
 * schema refused too (deploy/schemas/README.md says where each schema came from).
 *
 *     node dist/tools/deploy/validate-manifests.js deploy/k8s/overlays/hub [more kustomize dirs…]
 *
 * builds each directory with kustomize (`tools/install/kustomize.sh .cache/kustomize`, or one on PATH)
 * and prints every problem; exit code 1 when there is one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";

/** One thing wrong with one document. */
export interface ManifestProblem {
  /** `Deployment threadline/odoo-connector`. */
  readonly document: string;
  /** JSON pointer of the bad value (`/spec/template/spec/containers/0/bogus`); empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

type Schema = Record<string, unknown>;

export const SCHEMAS_DIR = join(PACKAGE_ROOT, "deploy", "schemas");
/** Schema ids must be absolute for references between them (the host is a name, never fetched). */
const SCHEMA_BASE = "https://schemas.threadline.invalid/";
const K8S_ID = `${SCHEMA_BASE}kubernetes.json`;

/**
 * The API server prunes (and with strict validation refuses) a field its schema does not name: in
 * JSON Schema terms, `additionalProperties: false` on every object that lists `properties`, unless it
 * says it keeps unknown fields. Kubernetes' int-or-string and quantity accept a number or a string.
 */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema as Schema)) {
    if (key === "description" || key === "example" || key === "default") continue;
    out[key] =
      key === "properties"
        ? Object.fromEntries(Object.entries(value as Schema).map(([p, s]) => [p, strict(s)]))
        : strict(value);
  }
  if (
    out["x-kubernetes-int-or-string"] === true ||
    out["format"] === "int-or-string" ||
    out["format"] === "quantity"
  ) {
    delete out["type"];
    delete out["format"];
    out["anyOf"] = [{ type: "integer" }, { type: "number" }, { type: "string" }];
  }
  if (
    out["properties"] &&
    out["additionalProperties"] === undefined &&
    out["x-kubernetes-preserve-unknown-fields"] !== true
  ) {
    out["additionalProperties"] = false;
  }
  return out;
}

/** Go's RE2 patterns of the CRDs, in JavaScript: RE2's inline `(?i)` becomes the `i` flag. */
const goRegExp = Object.assign(
  (pattern: string, flags: string): RegExp =>
    pattern.includes("(?i)")
      ? new RegExp(pattern.replaceAll("(?i)", ""), `${flags}i`)
      : new RegExp(pattern, flags),
  { code: "goRegExp" },
);

/** `apiVersion/kind` → the schema of that kind. */
function loadSchemas(): { ajv: Ajv; kinds: Map<string, string> } {
  // The CRDs use Go regular expressions and OpenAPI keywords (nullable, x-kubernetes-*): no unicode
  // mode, unknown keywords and formats ignored — types, enums, required fields and names are checked.
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateFormats: false,
    unicodeRegExp: false,
    code: { regExp: goRegExp },
  });
  const kinds = new Map<string, string>();
  const core = JSON.parse(readFileSync(join(SCHEMAS_DIR, "kubernetes.json"), "utf8")) as {
    kinds: Record<string, string>;
    definitions: Record<string, Schema>;
  };
  const definitions = Object.fromEntries(Object.entries(core.definitions).map(([n, d]) => [n, strict(d)]));
  ajv.addSchema({ $id: K8S_ID, definitions });
  for (const [kind, definition] of Object.entries(core.kinds)) {
    kinds.set(kind, `${K8S_ID}#/definitions/${definition}`);
  }
  const objectMeta = `${K8S_ID}#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;
  for (const file of readdirSync(join(SCHEMAS_DIR, "crds")).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(SCHEMAS_DIR, "crds", file), "utf8"))) {
      const crd = doc.toJS() as {
        kind?: string;
        spec?: {
          group: string;
          names: { kind: string };
          versions: { name: string; schema?: { openAPIV3Schema: Schema } }[];
        };
      } | null;
      if (crd?.kind !== "CustomResourceDefinition" || !crd.spec) continue;
      for (const version of crd.spec.versions) {
        if (!version.schema) continue;
        const kind = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
        const id = `${SCHEMA_BASE}${kind}`;
        const schema = strict(version.schema.openAPIV3Schema) as Schema;
        // The API server gives every custom resource apiVersion, kind and an ObjectMeta, whether its
        // CRD lists them (Prometheus Operator's, cert-manager's) or not (NACK's).
        schema["properties"] = {
          ...(schema["properties"] as Schema),
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { $ref: objectMeta },
        };
        schema["additionalProperties"] = false;
        ajv.addSchema({ ...schema, $id: id });
        kinds.set(kind, id);
      }
    }
  }
  return { ajv, kinds };
}

let loaded: { ajv: Ajv; kinds: Map<string, string>; compiled: Map<string, ValidateFunction> } | undefined;

/** The kinds that have a vendored schema, as `apiVersion/kind`. */
export function knownKinds(): string[] {
  loaded ??= { ...loadSchemas(), compiled: new Map() };
  return [...loaded.kinds.keys()].sort();
}

function describe(doc: Schema): string {
  const meta = (doc["metadata"] ?? {}) as { name?: string; namespace?: string };
  return `${String(doc["kind"] ?? "?")} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? "?"}`;
}

/** Every problem of these documents; none means each one matches the schema of its kind exactly. */
export function validateManifests(docs: readonly unknown[]): ManifestProblem[] {
  loaded ??= { ...loadSchemas(), compiled: new Map() };
  const state = loaded;
  const problems: ManifestProblem[] = [];
  for (const raw of docs) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      problems.push({
        document: "?",
        path: "",
        message: "a document must be a mapping with apiVersion and kind",
      });
      continue;
    }
    const doc = raw as Schema;
    const kind = `${String(doc["apiVersion"])}/${String(doc["kind"])}`;
    const ref = state.kinds.get(kind);
    if (!ref) {
      problems.push({
        document: describe(doc),
        path: "",
        message: `no schema for ${kind}: vendor its schema into deploy/schemas (README there) or use a known kind`,
      });
      continue;
    }
    let validate = state.compiled.get(ref);
    if (!validate) {
      validate = state.ajv.compile({ $ref: ref });
      state.compiled.set(ref, validate);
    }
    if (validate(doc)) continue;
    for (const error of validate.errors ?? []) {
      // anyOf/oneOf repeat their branches' errors; the branch errors name the field.
      if (error.keyword === "anyOf" || error.keyword === "oneOf") continue;
      const extra =
        error.keyword === "additionalProperties" ? ` (${String(error.params["additionalProperty"])})` : "";
      problems.push({
        document: describe(doc),
        path: error.instancePath,
        message: `${error.message ?? error.keyword}${extra}`,
      });
    }
  }
  return problems;
}

/**
 * kustomize: `THREADLINE_KUSTOMIZE`, else what tools/install/kustomize.sh put in `.cache/kustomize`, else
 * `kustomize` on PATH.
 */
export function kustomizeBinary(): string {
  const installed = join(PACKAGE_ROOT, ".cache", "kustomize", "kustomize");
  return process.env["THREADLINE_KUSTOMIZE"] || (existsSync(installed) ? installed : "kustomize");
}

/** The documents `kustomize build <dir>` makes. Throws with kustomize's message when it refuses. */
export function kustomizeBuild(dir: string): Schema[] {
  const bin = kustomizeBinary();
  const out = execFileSync(bin, ["build", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Schema | null)
    .filter((d): d is Schema => d !== null);
}

if (process.argv[1]?.endsWith("validate-manifests.js")) {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    process.stderr.write("usage: validate-manifests <kustomize directory>...\n");
    process.exit(2);
  }
  let failed = false;
  for (const dir of dirs) {
    const docs = kustomizeBuild(dir);
    const problems = validateManifests(docs);
    for (const p of problems) process.stdout.write(`${dir}: ${p.document} ${p.path || "/"}: ${p.message}\n`);
    process.stdout.write(`${dir}: ${docs.length} documents, ${problems.length} problems\n`);
    failed ||= problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
