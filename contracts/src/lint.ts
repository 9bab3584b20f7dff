/**
 * House rules for event schemas, beyond Avro validity: what `threadline contracts check` enforces.
 * Each finding is a sentence naming the field and the rule.
 */
import type { EventContract } from "./catalog.js";

type Node = Record<string, unknown>;

const QUANTITY_NAME = /(^|[a-z])(qty|quantity|Qty|Quantity)/;
const TIME_NAME = /(At|Time)$/;

function isObject(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strips `null` from a union so rules look at the value type. */
function valueType(t: unknown): unknown {
  if (Array.isArray(t)) {
    const rest = t.filter((b) => b !== "null");
    return rest.length === 1 ? rest[0] : t;
  }
  return t;
}

export function lintContract(contract: EventContract): string[] {
  const problems: string[] = [];
  const visit = (schema: unknown, path: string) => {
    if (Array.isArray(schema)) {
      for (const b of schema) visit(b, path);
      return;
    }
    if (!isObject(schema)) return;
    const type = schema["type"];
    if (type === "record" || type === "enum" || type === "fixed") {
      if (typeof schema["doc"] !== "string" || (schema["doc"] as string).trim() === "") {
        problems.push(`${path || String(schema["name"])}: ${type} ${String(schema["name"])} has no doc`);
      }
    }
    if (type === "record") {
      for (const f of (schema["fields"] as Node[]) ?? []) {
        const fpath = path ? `${path}.${String(f["name"])}` : String(f["name"]);
        if (typeof f["doc"] !== "string" || (f["doc"] as string).trim() === "")
          problems.push(`${fpath}: field has no doc`);
        const vt = valueType(f["type"]);
        const prim =
          typeof vt === "string" ? vt : isObject(vt) && !vt["logicalType"] ? vt["type"] : undefined;
        if (QUANTITY_NAME.test(String(f["name"])) && (prim === "float" || prim === "double")) {
          problems.push(`${fpath}: quantities must be exact decimals, not ${prim}`);
        }
        if (
          TIME_NAME.test(String(f["name"])) &&
          !(isObject(vt) && vt["logicalType"] === "timestamp-millis")
        ) {
          problems.push(`${fpath}: times must be timestamp-millis`);
        }
        visit(f["type"], fpath);
      }
    } else if (type === "array") visit(schema["items"], `${path}[]`);
    else if (type === "map") visit(schema["values"], `${path}{}`);
    else if (isObject(type) || Array.isArray(type)) visit(type, path);
  };
  visit(contract.json, "");
  return problems;
}
