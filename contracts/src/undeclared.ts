/**
 * Finds the fields of a payload its schema does not have. avsc writes the declared fields and drops
 * the rest without a word, so a misspelt field (`shfit` for `shift`) would publish the default and
 * lose the value; the codec refuses such a payload instead, naming the field.
 *
 * The check is compiled once per type (it runs on every publish): only records, and the arrays,
 * maps and unions that can hold one, are walked.
 */
import type avro from "avsc";
import type { FieldProblem } from "./errors.js";

type Check = (value: unknown, path: string, out: FieldProblem[]) => void;

const compiled = new WeakMap<avro.Type, Check | null>();

/** The undeclared fields of `value` as problems (empty when there are none). */
export function undeclaredFields(type: avro.Type, value: unknown): FieldProblem[] {
  const check = checkFor(type);
  if (!check) return [];
  const out: FieldProblem[] = [];
  check(value, "", out);
  return out;
}

function checkFor(type: avro.Type): Check | null {
  const known = compiled.get(type);
  if (known !== undefined) return known;
  // A recursive type meets itself while compiling: refer to the slot, filled below.
  let self: Check | null = null;
  compiled.set(type, (v, p, o) => self?.(v, p, o));
  self = compile(type);
  compiled.set(type, self);
  return self;
}

const join = (path: string, name: string) => (path === "" ? name : `${path}.${name}`);

function compile(type: avro.Type): Check | null {
  const name = type.typeName;
  if (name === "record" || name === "error") {
    const record = type as avro.types.RecordType;
    const declared = new Set(record.fields.map((f) => f.name));
    const nested = record.fields
      .map((f) => [f.name, checkFor(f.type)] as const)
      .filter((entry): entry is readonly [string, Check] => entry[1] !== null);
    const recordName = record.name?.slice(record.name.lastIndexOf(".") + 1) ?? "record";
    return (value, path, out) => {
      if (value === null || typeof value !== "object") return;
      const fields = value as Record<string, unknown>;
      for (const key of Object.keys(fields))
        if (!declared.has(key) && fields[key] !== undefined)
          out.push({
            path: join(path, key),
            expected: `no such field: ${recordName} has ${[...declared].join(", ")}`,
            actual: "a value",
          });
      for (const [field, check] of nested) check(fields[field], join(path, field), out);
    };
  }
  if (name === "array") {
    const items = checkFor((type as avro.types.ArrayType).itemsType);
    if (!items) return null;
    return (value, path, out) => {
      if (!Array.isArray(value)) return;
      value.forEach((item, i) => {
        items(item, `${path}[${i}]`, out);
      });
    };
  }
  if (name === "map") {
    const values = checkFor((type as avro.types.MapType).valuesType);
    if (!values) return null;
    return (value, path, out) => {
      if (value === null || typeof value !== "object") return;
      for (const [key, v] of Object.entries(value)) values(v, join(path, key), out);
    };
  }
  if (name.startsWith("union")) {
    const branches = (type as avro.types.UnwrappedUnionType).types
      .map((t) => [t, checkFor(t)] as const)
      .filter((entry): entry is readonly [avro.Type, Check] => entry[1] !== null);
    if (branches.length === 0) return null;
    const [only] = branches;
    if (branches.length === 1 && only) return only[1];
    // Several branches could hold a record: the one the value is valid for decides.
    return (value, path, out) => {
      const branch = branches.find(([t]) => t.isValid(value));
      branch?.[1](value, path, out);
    };
  }
  const underlying = (type as { underlyingType?: avro.Type }).underlyingType;
  return underlying ? checkFor(underlying) : null;
}
