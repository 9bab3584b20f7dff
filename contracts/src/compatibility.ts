/**
 * Avro schema resolution (Avro 1.11 specification, "Schema Resolution") as a pure function over
 * schema JSON, plus the registry's compatibility modes built on top of it.
 *
 * `canRead(reader, writer)` answers "can a consumer holding `reader` decode data written with
 * `writer`?" and, when it cannot, says exactly where and which rule broke, as a list of
 * `Incompatibility` objects with a stable `rule` code. avsc's resolver would give the same verdict
 * (the test suite cross-checks it) but only with messages like "cannot read X as Y".
 *
 * Decisions worth knowing (each also noted where it is implemented):
 * - Named types (record, enum, fixed) match when their unqualified names are equal or when one of
 *   the reader's aliases has the writer's unqualified name, as in the specification ("the same
 *   (unqualified) name") and Java's `SchemaCompatibility`. Binary Avro carries no names, so a
 *   namespace move alone never breaks decoding. (avsc checks full names unless asked to
 *   `ignoreNamespaces`.)
 * - Logical types resolve on their underlying types, except `decimal`, which is stricter than the
 *   specification and avsc: see `checkDecimal`.
 * - A reader field whose name and aliases match several writer fields is ambiguous: an error in
 *   both avsc and Java, reported here as AMBIGUOUS_FIELD_ALIAS.
 * - Field defaults are not validated against their types here: that is schema validity (avsc does
 *   it when parsing a schema), not compatibility.
 */
import { SchemaInvalidError } from "./errors.js";

// ---------------------------------------------------------------------------------------------
// Schema JSON
// ---------------------------------------------------------------------------------------------

/** The eight Avro primitive type names. */
export const AVRO_PRIMITIVES = [
  "null",
  "boolean",
  "int",
  "long",
  "float",
  "double",
  "bytes",
  "string",
] as const;
export type AvroPrimitive = (typeof AVRO_PRIMITIVES)[number];

/** A record field as written in schema JSON. */
export interface AvroFieldSchema {
  readonly name: string;
  readonly type: AvroSchema;
  readonly doc?: string;
  /** Any JSON value; its presence (even `null`) is what matters for resolution. */
  readonly default?: unknown;
  readonly aliases?: readonly string[];
  readonly order?: "ascending" | "descending" | "ignore";
  readonly [attribute: string]: unknown;
}

/** A schema in object form: `{"type": ...}` with the attributes of its kind. */
export interface AvroSchemaObject {
  /** A primitive, `record`, `error`, `enum`, `fixed`, `array`, `map`, a named-type reference, or a nested schema. */
  readonly type: AvroSchema;
  readonly name?: string;
  readonly namespace?: string;
  readonly aliases?: readonly string[];
  readonly doc?: string;
  /** record / error */
  readonly fields?: readonly AvroFieldSchema[];
  /** enum */
  readonly symbols?: readonly string[];
  /** enum: the symbol a reader uses for writer symbols it does not know. */
  readonly default?: unknown;
  /** fixed */
  readonly size?: number;
  /** array */
  readonly items?: AvroSchema;
  /** map */
  readonly values?: AvroSchema;
  readonly logicalType?: string;
  /** decimal */
  readonly precision?: number;
  /** decimal */
  readonly scale?: number;
  readonly [attribute: string]: unknown;
}

/**
 * Avro schema JSON: a type name (primitive or a named type defined earlier), a union (array), or an
 * object. Loosely typed on purpose: `canRead` validates what it needs and throws
 * `SchemaInvalidError` on a schema it cannot make sense of.
 */
export type AvroSchema = string | readonly AvroSchema[] | AvroSchemaObject;

// ---------------------------------------------------------------------------------------------
// Rules and results
// ---------------------------------------------------------------------------------------------

/** The resolution rules `canRead` checks. Codes are stable: match on them, never on messages. */
export const INCOMPATIBILITY_RULES = {
  TYPE_MISMATCH:
    "the writer's type is neither the reader's type nor promotable to it " +
    "(int→long/float/double, long→float/double, float→double, string↔bytes)",
  NAME_MISMATCH:
    "named types (record, enum, fixed) differ in name and the reader has no alias for the writer's name",
  FIXED_SIZE_MISMATCH: "fixed types differ in size",
  MISSING_ENUM_SYMBOL: "the writer has enum symbols the reader lacks, and the reader enum has no default",
  READER_FIELD_MISSING_DEFAULT:
    "a reader field is absent from the writer (by name and aliases) and has no default",
  AMBIGUOUS_FIELD_ALIAS: "a reader field matches several writer fields through its name and aliases",
  MISSING_UNION_BRANCH:
    "a type the writer can write (a union branch, or its only type) is readable by no branch of the reader",
  DECIMAL_MISMATCH: "decimal scale differs, or the reader's precision is smaller than the writer's",
} as const;
export type IncompatibilityRule = keyof typeof INCOMPATIBILITY_RULES;

/** One reason why a reader schema cannot read data of a writer schema. */
export interface Incompatibility {
  /**
   * Where it happens: the reader's root record name (or `$` for an unnamed root), then reader
   * field names joined by `.`, `[]` for array items and `{}` for map values, e.g.
   * `ProductionOrderReleased.quantity.value` or `$.components[].lot`.
   */
  readonly path: string;
  readonly rule: IncompatibilityRule;
  /** A sentence naming the field and the rule, for people. */
  readonly message: string;
}

/** Writer type → reader types that can read it without being the same type (Avro promotions). */
export const PROMOTIONS: Readonly<Record<AvroPrimitive, readonly AvroPrimitive[]>> = {
  null: [],
  boolean: [],
  int: ["long", "float", "double"],
  long: ["float", "double"],
  float: ["double"],
  double: [],
  bytes: ["string"],
  string: ["bytes"],
};

// ---------------------------------------------------------------------------------------------
// Parsing schema JSON into a graph with resolved names
// ---------------------------------------------------------------------------------------------

interface Decimal {
  readonly precision: number;
  readonly scale: number;
}

interface PrimitiveNode {
  readonly kind: "primitive";
  readonly type: AvroPrimitive;
  readonly decimal: Decimal | undefined;
}
interface FieldNode {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly hasDefault: boolean;
  readonly type: Node;
}
interface RecordNode {
  readonly kind: "record";
  readonly fullname: string;
  readonly aliases: readonly string[];
  readonly fields: FieldNode[];
}
interface EnumNode {
  readonly kind: "enum";
  readonly fullname: string;
  readonly aliases: readonly string[];
  readonly symbols: readonly string[];
  readonly default: string | undefined;
}
interface FixedNode {
  readonly kind: "fixed";
  readonly fullname: string;
  readonly aliases: readonly string[];
  readonly size: number;
  readonly decimal: Decimal | undefined;
}
interface ArrayNode {
  readonly kind: "array";
  readonly items: Node;
}
interface MapNode {
  readonly kind: "map";
  readonly values: Node;
}
interface UnionNode {
  readonly kind: "union";
  readonly branches: readonly Node[];
}
/** A reference by name; resolved lazily so that recursive types need no special parsing. */
interface RefNode {
  readonly kind: "ref";
  readonly target: () => NamedNode;
}
type NamedNode = RecordNode | EnumNode | FixedNode;
type Node = PrimitiveNode | NamedNode | ArrayNode | MapNode | UnionNode | RefNode;
type ResolvedNode = Exclude<Node, RefNode>;

const PRIMITIVE_SET: ReadonlySet<string> = new Set(AVRO_PRIMITIVES);

function isPrimitive(name: string): name is AvroPrimitive {
  return PRIMITIVE_SET.has(name);
}

function unqualified(fullname: string): string {
  const dot = fullname.lastIndexOf(".");
  return dot < 0 ? fullname : fullname.slice(dot + 1);
}

function qualify(name: string, namespace: string | undefined): string {
  return name.includes(".") || !namespace ? name : `${namespace}.${name}`;
}

function isSchemaObject(schema: AvroSchema): schema is AvroSchemaObject {
  return typeof schema === "object" && schema !== null && !Array.isArray(schema);
}

function stringList(value: unknown, what: string, fail: (detail: string) => never): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) {
    return fail(`${what} must be an array of strings`);
  }
  return value;
}

/** Parses schema JSON into nodes; named types are registered under their full names. */
class SchemaParser {
  private readonly names = new Map<string, NamedNode>();
  private readonly pendingRefs: Array<() => NamedNode> = [];

  constructor(private readonly source: string) {}

  parseRoot(schema: AvroSchema): Node {
    const root = this.parse(schema, undefined);
    // Fail now, not halfway through a comparison, on a reference to an undefined name.
    for (const resolve of this.pendingRefs) resolve();
    return root;
  }

  private fail(detail: string): never {
    throw new SchemaInvalidError(this.source, detail);
  }

  private parse(schema: AvroSchema, namespace: string | undefined): Node {
    if (typeof schema === "string") return this.named(schema, namespace);
    if (Array.isArray(schema)) {
      const branches = (schema as readonly AvroSchema[]).map((branch) => this.parse(branch, namespace));
      if (branches.some((b) => b.kind === "union")) this.fail("a union cannot contain a union directly");
      return { kind: "union", branches };
    }
    if (!isSchemaObject(schema)) return this.fail(`not a schema: ${JSON.stringify(schema)}`);
    const type = schema.type;
    if (typeof type !== "string") {
      if (type === undefined) this.fail(`schema object without "type": ${JSON.stringify(schema)}`);
      return this.parse(type, namespace);
    }
    switch (type) {
      case "record":
      case "error":
        return this.record(schema, namespace);
      case "enum":
        return this.enumeration(schema, namespace);
      case "fixed":
        return this.fixed(schema, namespace);
      case "array":
        if (schema.items === undefined) this.fail(`array without "items"`);
        return { kind: "array", items: this.parse(schema.items, namespace) };
      case "map":
        if (schema.values === undefined) this.fail(`map without "values"`);
        return { kind: "map", values: this.parse(schema.values, namespace) };
      default:
        if (isPrimitive(type)) {
          return { kind: "primitive", type, decimal: type === "bytes" ? decimalOf(schema) : undefined };
        }
        return this.named(type, namespace);
    }
  }

  /** A primitive by name, or a reference to a named type defined elsewhere in the schema. */
  private named(name: string, namespace: string | undefined): Node {
    if (isPrimitive(name)) return { kind: "primitive", type: name, decimal: undefined };
    let resolved: NamedNode | undefined;
    const target = (): NamedNode => {
      // As in the Java implementation: the name in the enclosing namespace, else the name as is.
      resolved ??= this.names.get(qualify(name, namespace)) ?? this.names.get(name);
      return (
        resolved ?? this.fail(`unknown type "${name}"${namespace ? ` (in namespace ${namespace})` : ""}`)
      );
    };
    this.pendingRefs.push(target);
    return { kind: "ref", target };
  }

  /** Computes the full name and namespace of a named type and its qualified aliases. */
  private identity(schema: AvroSchemaObject, enclosing: string | undefined) {
    const name = schema.name;
    if (typeof name !== "string" || name === "") return this.fail(`${String(schema.type)} without a name`);
    const explicit = typeof schema.namespace === "string" ? schema.namespace : undefined;
    const namespace = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : (explicit ?? enclosing);
    const fullname = qualify(name, namespace);
    const aliases = stringList(schema.aliases, `aliases of ${fullname}`, (d) => this.fail(d)).map((a) =>
      qualify(a, namespace),
    );
    return { fullname, namespace: namespace === "" ? undefined : namespace, aliases };
  }

  private register(node: NamedNode): void {
    if (this.names.has(node.fullname)) this.fail(`type ${node.fullname} is defined twice`);
    this.names.set(node.fullname, node);
  }

  private record(schema: AvroSchemaObject, enclosing: string | undefined): RecordNode {
    const { fullname, namespace, aliases } = this.identity(schema, enclosing);
    if (!Array.isArray(schema.fields)) this.fail(`record ${fullname} without "fields"`);
    const fields: FieldNode[] = [];
    const node: RecordNode = { kind: "record", fullname, aliases, fields };
    // Registered before its fields are parsed, so that fields can refer to the record itself.
    this.register(node);
    for (const field of schema.fields ?? []) {
      if (typeof field !== "object" || field === null || typeof field.name !== "string") {
        this.fail(`record ${fullname} has a field without a name`);
      }
      if (field.type === undefined) this.fail(`field ${fullname}.${field.name} without "type"`);
      if (fields.some((f) => f.name === field.name))
        this.fail(`field ${fullname}.${field.name} is defined twice`);
      fields.push({
        name: field.name,
        aliases: stringList(field.aliases, `aliases of field ${fullname}.${field.name}`, (d) => this.fail(d)),
        hasDefault: "default" in field && field.default !== undefined,
        type: this.parse(field.type, namespace),
      });
    }
    return node;
  }

  private enumeration(schema: AvroSchemaObject, enclosing: string | undefined): EnumNode {
    const { fullname, aliases } = this.identity(schema, enclosing);
    const symbols = stringList(schema.symbols, `symbols of enum ${fullname}`, (d) => this.fail(d));
    if (schema.symbols === undefined) this.fail(`enum ${fullname} without "symbols"`);
    const dflt = schema.default;
    if (dflt !== undefined && typeof dflt !== "string")
      this.fail(`default of enum ${fullname} must be a symbol`);
    const node: EnumNode = { kind: "enum", fullname, aliases, symbols, default: dflt };
    this.register(node);
    return node;
  }

  private fixed(schema: AvroSchemaObject, enclosing: string | undefined): FixedNode {
    const { fullname, aliases } = this.identity(schema, enclosing);
    const size = schema.size;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      this.fail(`fixed ${fullname} needs a non-negative integer "size"`);
    }
    const node: FixedNode = { kind: "fixed", fullname, aliases, size, decimal: decimalOf(schema) };
    this.register(node);
    return node;
  }
}

/** The decimal parameters of a bytes/fixed schema, when it is a (valid enough) decimal. */
function decimalOf(schema: AvroSchemaObject): Decimal | undefined {
  if (schema.logicalType !== "decimal") return undefined;
  const { precision, scale = 0 } = schema;
  // The specification says to ignore an invalid logical type and use the underlying type.
  if (typeof precision !== "number" || typeof scale !== "number") return undefined;
  return { precision, scale };
}

function parseSchema(schema: AvroSchema, source: string): Node {
  return new SchemaParser(source).parseRoot(schema);
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

function deref(node: Node): ResolvedNode {
  return node.kind === "ref" ? node.target() : node;
}

function describe(node: Node): string {
  const n = deref(node);
  switch (n.kind) {
    case "primitive":
      return n.decimal ? `${n.type} (decimal(${n.decimal.precision},${n.decimal.scale}))` : n.type;
    case "record":
      return `record ${n.fullname}`;
    case "enum":
      return `enum ${n.fullname}`;
    case "fixed":
      return `fixed ${n.fullname} (${n.size} bytes)`;
    case "array":
      return `array of ${describe(n.items)}`;
    case "map":
      return `map of ${describe(n.values)}`;
    case "union":
      return `union [${n.branches.map(describe).join(", ")}]`;
  }
}

/** "field X.a", "field X.list[]", "field X.tags{}", "schema X", "schema $[]": always the exact path. */
function subject(path: string): string {
  return path.includes(".") ? `field ${path}` : `schema ${path}`;
}

function isNamed(node: ResolvedNode): node is NamedNode {
  return node.kind === "record" || node.kind === "enum" || node.kind === "fixed";
}

function namesMatch(reader: NamedNode, writer: NamedNode): boolean {
  const wanted = unqualified(writer.fullname);
  return [reader.fullname, ...reader.aliases].some((name) => unqualified(name) === wanted);
}

/** Whether `writer` and `reader` are the same sort of type, i.e. whether a mismatch is "inside" them. */
function sameFamily(reader: ResolvedNode, writer: ResolvedNode): boolean {
  if (reader.kind === "primitive" && writer.kind === "primitive") {
    return reader.type === writer.type || PROMOTIONS[writer.type].includes(reader.type);
  }
  return reader.kind === writer.kind;
}

class Resolution {
  /** Record pairs being compared further up the stack: the guard that ends recursive types. */
  private readonly inProgress = new Map<RecordNode, Set<RecordNode>>();

  check(readerNode: Node, writerNode: Node, path: string): Incompatibility[] {
    const reader = deref(readerNode);
    const writer = deref(writerNode);
    if (writer.kind === "union") {
      // Each branch the writer may have written must be readable.
      const readerBranches = reader.kind === "union" ? reader.branches : [reader];
      return writer.branches.flatMap((branch) =>
        this.readBranch(readerBranches, reader, deref(branch), path, true),
      );
    }
    if (reader.kind === "union") return this.readBranch(reader.branches, reader, writer, path, false);
    return this.checkSingle(reader, writer, path);
  }

  /**
   * Reads the (non-union) `writer` with the first reader branch that can. When none can, and
   * exactly one branch is of the same sort (the `Quantity` in `["null", Quantity]`), its own
   * problems are the more useful explanation; otherwise the branch is simply missing.
   */
  private readBranch(
    branches: readonly Node[],
    reader: ResolvedNode,
    writer: ResolvedNode,
    path: string,
    writerIsUnion: boolean,
  ): Incompatibility[] {
    if (writer.kind === "union") return this.check(reader, writer, path); // invalid nesting; be total
    let candidates: Array<{ branch: ResolvedNode; problems: Incompatibility[] }> = [];
    for (const node of branches) {
      const branch = deref(node);
      if (!sameFamily(branch, writer)) continue;
      const problems = this.checkSingle(branch, writer, path);
      if (problems.length === 0) return [];
      candidates.push({ branch, problems });
    }
    if (candidates.length > 1) {
      candidates = candidates.filter(
        ({ branch }) => isNamed(branch) && isNamed(writer) && namesMatch(branch, writer),
      );
    }
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (only) return only.problems;
    const message = writerIsUnion
      ? reader.kind === "union"
        ? `${subject(path)}: the writer's union branch ${describe(writer)} is readable by no branch of the reader's ${describe(reader)}`
        : `${subject(path)}: the writer's union branch ${describe(writer)} cannot be read as the reader's ${describe(reader)}`
      : `${subject(path)}: the writer's ${describe(writer)} is readable by no branch of the reader's ${describe(reader)}`;
    return [{ path, rule: "MISSING_UNION_BRANCH", message }];
  }

  private checkSingle(reader: ResolvedNode, writer: ResolvedNode, path: string): Incompatibility[] {
    if (reader.kind === "union" || writer.kind === "union") return this.check(reader, writer, path);
    const mismatch = (): Incompatibility[] => [
      {
        path,
        rule: "TYPE_MISMATCH",
        message:
          `${subject(path)} is ${describe(writer)} in the writer but ${describe(reader)} in the reader, ` +
          (reader.kind === "primitive" && writer.kind === "primitive"
            ? `and Avro does not promote ${writer.type} to ${reader.type}`
            : `and a ${writer.kind} cannot be read as a ${reader.kind}`),
      },
    ];
    switch (reader.kind) {
      case "primitive":
        if (writer.kind !== "primitive" || !sameFamily(reader, writer)) return mismatch();
        return checkDecimal(reader.decimal, writer.decimal, path);
      case "array":
        if (writer.kind !== "array") return mismatch();
        return this.check(reader.items, writer.items, `${path}[]`);
      case "map":
        if (writer.kind !== "map") return mismatch();
        return this.check(reader.values, writer.values, `${path}{}`);
      case "record":
        if (writer.kind !== "record") return mismatch();
        return this.checkRecord(reader, writer, path);
      case "enum":
        if (writer.kind !== "enum") return mismatch();
        return [...checkName(reader, writer, path), ...checkEnum(reader, writer, path)];
      case "fixed": {
        if (writer.kind !== "fixed") return mismatch();
        const problems = checkName(reader, writer, path);
        if (reader.size !== writer.size) {
          problems.push({
            path,
            rule: "FIXED_SIZE_MISMATCH",
            message: `${subject(path)} is ${describe(writer)} in the writer but ${reader.size} bytes in the reader`,
          });
          return problems;
        }
        return [...problems, ...checkDecimal(reader.decimal, writer.decimal, path)];
      }
    }
  }

  private checkRecord(reader: RecordNode, writer: RecordNode, path: string): Incompatibility[] {
    const seen = this.inProgress.get(reader) ?? new Set<RecordNode>();
    // Already being compared further up (a recursive type): assume it resolves; any problem in it
    // is reported by that outer comparison.
    if (seen.has(writer)) return [];
    this.inProgress.set(reader, seen);
    seen.add(writer);
    try {
      const problems = checkName(reader, writer, path);
      for (const field of reader.fields) {
        const fieldPath = `${path}.${field.name}`;
        const names = [field.name, ...field.aliases];
        const matches = writer.fields.filter((w) => names.includes(w.name));
        const match = matches[0];
        if (matches.length > 1) {
          problems.push({
            path: fieldPath,
            rule: "AMBIGUOUS_FIELD_ALIAS",
            message:
              `field ${fieldPath} matches several writer fields (${matches.map((m) => m.name).join(", ")}) ` +
              `through its name and aliases`,
          });
        } else if (match) {
          problems.push(...this.check(field.type, match.type, fieldPath));
        } else if (!field.hasDefault) {
          const also = field.aliases.length > 0 ? ` (nor under its aliases ${field.aliases.join(", ")})` : "";
          problems.push({
            path: fieldPath,
            rule: "READER_FIELD_MISSING_DEFAULT",
            message: `field ${fieldPath} has no default and is missing from the writer${also}`,
          });
        }
        // Writer fields the reader does not have are skipped when reading: never a problem.
      }
      return problems;
    } finally {
      seen.delete(writer);
    }
  }
}

function checkName(reader: NamedNode, writer: NamedNode, path: string): Incompatibility[] {
  if (namesMatch(reader, writer)) return [];
  const aliases =
    reader.aliases.length > 0
      ? `its aliases (${reader.aliases.join(", ")}) do not include`
      : "it has no alias for";
  return [
    {
      path,
      rule: "NAME_MISMATCH",
      message:
        `${subject(path)} is ${writer.kind} ${writer.fullname} in the writer but ${reader.kind} ${reader.fullname} ` +
        `in the reader, and ${aliases} ${unqualified(writer.fullname)}`,
    },
  ];
}

function checkEnum(reader: EnumNode, writer: EnumNode, path: string): Incompatibility[] {
  if (reader.default !== undefined) return []; // unknown symbols read as the default
  const missing = writer.symbols.filter((s) => !reader.symbols.includes(s));
  if (missing.length === 0) return [];
  return [
    {
      path,
      rule: "MISSING_ENUM_SYMBOL",
      message:
        `${subject(path)} (enum ${reader.fullname}): the writer's symbol${missing.length > 1 ? "s" : ""} ` +
        `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not in the reader's symbols ` +
        `and the reader enum has no default`,
    },
  ];
}

/**
 * Decimals are stricter than the specification (and avsc), which resolve `decimal` on its
 * underlying bytes/fixed and so call any two decimals compatible. But a decimal is stored as its
 * unscaled integer: 12.500 at scale 3 is written as 12500, and a reader with scale 2 reads 125.00,
 * a tenfold error in a quantity with no decoding error to warn anyone. So a scale change is
 * always flagged. Precision is only a bound on the digits, so a reader may widen it safely; a
 * narrower reader precision is flagged because a writer's value may not fit. (Under FULL
 * compatibility both directions are checked, so any precision change fails there.)
 */
function checkDecimal(
  reader: Decimal | undefined,
  writer: Decimal | undefined,
  path: string,
): Incompatibility[] {
  if (!reader || !writer) return [];
  const w = `decimal(${writer.precision},${writer.scale})`;
  const r = `decimal(${reader.precision},${reader.scale})`;
  if (reader.scale !== writer.scale) {
    return [
      {
        path,
        rule: "DECIMAL_MISMATCH",
        message:
          `${subject(path)} is ${w} in the writer but ${r} in the reader: a different scale would misread ` +
          `every value by a factor of 10^${Math.abs(reader.scale - writer.scale)}`,
      },
    ];
  }
  if (reader.precision < writer.precision) {
    return [
      {
        path,
        rule: "DECIMAL_MISMATCH",
        message:
          `${subject(path)} is ${w} in the writer but ${r} in the reader: the reader's smaller precision ` +
          `cannot hold every value the writer may write`,
      },
    ];
  }
  return [];
}

function rootPath(reader: Node): string {
  const root = deref(reader);
  return isNamed(root) ? unqualified(root.fullname) : "$";
}

function canReadParsed(reader: Node, writer: Node): Incompatibility[] {
  return new Resolution().check(reader, writer, rootPath(reader));
}

/**
 * Whether data written with `writer` can be decoded with `reader` (Avro schema resolution).
 * Returns the problems, empty when it can. Throws `SchemaInvalidError` when either schema is not
 * one it can make sense of (unknown type names, a record without fields, ...).
 */
export function canRead(reader: AvroSchema, writer: AvroSchema): Incompatibility[] {
  return canReadParsed(parseSchema(reader, "(reader schema)"), parseSchema(writer, "(writer schema)"));
}

// ---------------------------------------------------------------------------------------------
// Compatibility modes
// ---------------------------------------------------------------------------------------------

export const COMPATIBILITY_MODES = [
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
  "NONE",
] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/**
 * The registry's mode for a subject that sets none. FULL_TRANSITIVE, because consumers and
 * producers deploy independently: a service built on version N must read events written with every
 * other version of the major, older (new reads old) and newer (old reads new). BACKWARD alone lets
 * a producer drop a field an older reader still requires, and that reader dead-letters every event.
 */
export const DEFAULT_COMPATIBILITY_MODE: CompatibilityMode = "FULL_TRANSITIVE";

export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return typeof value === "string" && (COMPATIBILITY_MODES as readonly string[]).includes(value);
}

/** "new reads old": the candidate decodes an old version's data (BACKWARD); "old reads new": FORWARD. */
export type CompatibilityDirection = "new reads old" | "old reads new";

export interface CompatibilityProblem extends Incompatibility {
  /** 1-based index of the previous version in `previous` (oldest first). */
  readonly againstVersion: number;
  readonly direction: CompatibilityDirection;
}

export interface CompatibilityReport {
  readonly compatible: boolean;
  readonly mode: CompatibilityMode;
  /** The 1-based versions the mode checked the candidate against (none under NONE). */
  readonly checkedVersions: readonly number[];
  readonly problems: readonly CompatibilityProblem[];
}

const MODE_RULES: Readonly<
  Record<
    CompatibilityMode,
    { readonly directions: readonly CompatibilityDirection[]; readonly transitive: boolean }
  >
> = {
  BACKWARD: { directions: ["new reads old"], transitive: false },
  BACKWARD_TRANSITIVE: { directions: ["new reads old"], transitive: true },
  FORWARD: { directions: ["old reads new"], transitive: false },
  FORWARD_TRANSITIVE: { directions: ["old reads new"], transitive: true },
  FULL: { directions: ["new reads old", "old reads new"], transitive: false },
  FULL_TRANSITIVE: { directions: ["new reads old", "old reads new"], transitive: true },
  NONE: { directions: [], transitive: false },
};

/**
 * Checks a candidate schema against the previous versions of its subject (oldest first) under a
 * compatibility mode. BACKWARD: the candidate reads the latest version's data; FORWARD: the latest
 * version reads the candidate's data; FULL: both; the _TRANSITIVE modes check every previous
 * version instead of the latest only; NONE checks nothing. With no previous version, everything
 * is compatible. Throws `SchemaInvalidError` on a schema it cannot parse.
 */
export function checkCompatibility(
  candidate: AvroSchema,
  previous: readonly AvroSchema[],
  mode: CompatibilityMode = DEFAULT_COMPATIBILITY_MODE,
): CompatibilityReport {
  const rules = MODE_RULES[mode];
  if (!rules) throw new TypeError(`unknown compatibility mode ${String(mode)}`);
  const newSchema = parseSchema(candidate, "(candidate schema)");
  const first = rules.transitive ? 1 : previous.length;
  const checkedVersions: number[] = [];
  const problems: CompatibilityProblem[] = [];
  if (rules.directions.length > 0) {
    for (let version = Math.max(first, 1); version <= previous.length; version++) {
      const old = parseSchema(previous[version - 1] as AvroSchema, `(previous version ${version})`);
      checkedVersions.push(version);
      for (const direction of rules.directions) {
        const found =
          direction === "new reads old" ? canReadParsed(newSchema, old) : canReadParsed(old, newSchema);
        for (const problem of found) problems.push({ ...problem, againstVersion: version, direction });
      }
    }
  }
  return { compatible: problems.length === 0, mode, checkedVersions, problems };
}

/**
 * A human explanation of a report, e.g.
 * `incompatible under BACKWARD_TRANSITIVE: against version 1 (new reads old): field
 * ProductionOrderReleased.line has no default and is missing from the writer (READER_FIELD_MISSING_DEFAULT)`;
 * several problems get one line each under a heading. `context` follows the mode of a refusal, e.g.
 * ` (the default)` or ` with HEAD`.
 */
export function formatReport(report: CompatibilityReport, context = ""): string {
  if (report.compatible) {
    if (report.mode === "NONE") return "compatible under NONE (no compatibility checks)";
    const versions = report.checkedVersions;
    if (versions.length === 0) return `compatible under ${report.mode} (no previous version)`;
    const against = versions.length === 1 ? `version ${versions[0]}` : `versions ${versions.join(", ")}`;
    return `compatible under ${report.mode} (checked against ${against})`;
  }
  const lines = report.problems.map(
    (p) => `against version ${p.againstVersion} (${p.direction}): ${p.message} (${p.rule})`,
  );
  if (lines.length === 1) return `incompatible under ${report.mode}${context}: ${lines[0]}`;
  return [
    `incompatible under ${report.mode}${context}: ${lines.length} problems`,
    ...lines.map((l) => `  - ${l}`),
  ].join("\n");
}
