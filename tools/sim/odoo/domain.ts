/**
 * Odoo domains: prefix (Polish) notation with `&`, `|`, `!` and an implicit `&` between terms,
 * leaves `[path, operator, value]` with dotted paths through relational fields, evaluated against
 * the simulator's rows with SQL semantics as Odoo's expression.py generates them (e.g. `!=`, `not in`
 * and `not ilike` also match NULL; `like`/`ilike` wrap the value in `%…%`; a date-only value on a
 * datetime field becomes `… 00:00:00`, or `… 23:59:59` for `>` and `<=`; a string on a many2one is
 * name-searched on the comodel; `child_of`/`parent_of` use `parent_path`).
 */
import { PythonError, valueError } from "./errors.js";
import type { Env, FieldDef, Row } from "./orm.js";
import { pyRepr } from "./py.js";

export type DomainNode =
  | { kind: "and" | "or"; children: DomainNode[] }
  | { kind: "not"; child: DomainNode }
  | { kind: "const"; value: boolean }
  | Leaf;

export interface Leaf {
  kind: "leaf";
  path: string;
  op: string;
  value: unknown;
  raw: readonly unknown[];
}

export const OPERATORS = [
  "=",
  "!=",
  "<=",
  "<",
  ">",
  ">=",
  "=?",
  "=like",
  "=ilike",
  "like",
  "not like",
  "ilike",
  "not ilike",
  "in",
  "not in",
  "child_of",
  "parent_of",
] as const;

const NEGATIVE: Record<string, string> = {
  "!=": "=",
  "not in": "in",
  "not like": "like",
  "not ilike": "ilike",
};

/** Parses a domain (a JSON array) into a tree; raises as Odoo does on a malformed one. */
export function parseDomain(domain: unknown): DomainNode {
  if (domain === false || domain === null || domain === undefined) return { kind: "and", children: [] };
  if (!Array.isArray(domain)) throw valueError(`Invalid domain: ${pyRepr(domain)}`);
  let pos = 0;
  const syntax = () =>
    new PythonError("builtins.AssertionError", `This domain is syntactically not correct: ${pyRepr(domain)}`);
  const parseOne = (): DomainNode => {
    if (pos >= domain.length) throw syntax();
    const token = domain[pos++];
    if (token === "&" || token === "|") {
      const a = parseOne();
      const b = parseOne();
      return { kind: token === "&" ? "and" : "or", children: [a, b] };
    }
    if (token === "!") return { kind: "not", child: parseOne() };
    return parseLeaf(token);
  };
  const children: DomainNode[] = [];
  while (pos < domain.length) children.push(parseOne());
  return children.length === 1 ? (children[0] as DomainNode) : { kind: "and", children };
}

function parseLeaf(token: unknown): DomainNode {
  if (!Array.isArray(token) || token.length !== 3) throw valueError(`Invalid leaf ${pyRepr(token)}`);
  const [left, rawOp, value] = token as [unknown, unknown, unknown];
  if ((left === 1 || left === 0) && rawOp === "=" && value === 1) return { kind: "const", value: left === 1 };
  if (typeof left !== "string" || typeof rawOp !== "string")
    throw valueError(`Invalid leaf ${pyRepr(token)}`);
  let op = rawOp.toLowerCase();
  if (op === "<>") op = "!=";
  if (op === "==") op = "=";
  if (!(OPERATORS as readonly string[]).includes(op))
    throw valueError(`Invalid operator ${pyRepr(rawOp)} in domain term ${pyRepr(token, true)}`);
  return { kind: "leaf", path: left, op, value, raw: token };
}

/** Checks every leaf's path against the model (Odoo raises even when no row exists). */
export function checkDomain(env: Env, model: string, node: DomainNode): void {
  if (node.kind === "and" || node.kind === "or") for (const c of node.children) checkDomain(env, model, c);
  else if (node.kind === "not") checkDomain(env, model, node.child);
  else if (node.kind === "leaf") {
    let current = model;
    const segs = node.path.split(".");
    segs.forEach((seg, i) => {
      const f = env.model(current).fields[seg];
      if (!f) throw valueError(env.profile.invalidDomainField(current, seg, node.raw));
      if (!f.stored && !f.related && !f.search && f.type !== "one2many" && seg !== "display_name")
        throw valueError(`Non-stored field ${current}.${seg} cannot be searched.`);
      if (i < segs.length - 1) {
        if (!f.relation)
          throw valueError(env.profile.invalidDomainField(current, segs[i + 1] as string, node.raw));
        current = f.relation;
      }
    });
  }
}

/** Whether a row matches the domain. */
export function evaluateDomain(env: Env, model: string, row: Row, node: DomainNode): boolean {
  switch (node.kind) {
    case "const":
      return node.value;
    case "and":
      return node.children.every((c) => evaluateDomain(env, model, row, c));
    case "or":
      return node.children.some((c) => evaluateDomain(env, model, row, c));
    case "not":
      return !evaluateDomain(env, model, row, node.child);
    case "leaf":
      return evalPath(env, model, [row], node.path.split("."), node);
  }
}

function evalPath(env: Env, model: string, rows: Row[], segs: string[], leaf: Leaf): boolean {
  const [head, ...rest] = segs as [string, ...string[]];
  const f = env.field(model, head);
  if (f.related && rest.length === 0) {
    return evalPath(env, model, rows, [...f.related.split(".")], leaf);
  }
  if (rest.length === 0) return rows.some((r) => evalField(env, model, r, f, leaf));
  const comodel = f.relation as string;
  const targets: Row[] = [];
  for (const r of rows) {
    const v = env.value(model, r, head);
    if (Array.isArray(v)) for (const id of v) targets.push(env.row(comodel, id as number));
    else if (v) targets.push(env.row(comodel, v as number));
  }
  if (targets.length === 0) return false;
  return evalPath(env, comodel, targets, rest, leaf);
}

const cache = new WeakMap<Leaf, Set<number>>();

function evalField(env: Env, model: string, row: Row, f: FieldDef, leaf: Leaf): boolean {
  const { op } = leaf;
  if (f.search && !f.stored) {
    let ids = cache.get(leaf);
    if (!ids) {
      ids = new Set(env.search(model, f.search(env, op, leaf.value)));
      cache.set(leaf, ids);
    }
    return ids.has(row.id);
  }
  if (op === "child_of" || op === "parent_of") {
    const target = f.name === "id" ? model : (f.relation ?? model);
    let ids = cache.get(leaf);
    if (!ids) {
      ids = hierarchy(env, target, leaf.value, op);
      cache.set(leaf, ids);
    }
    const v = f.name === "id" ? row.id : env.value(model, row, f.name);
    const set = ids;
    return Array.isArray(v) ? v.some((x) => set.has(x as number)) : set.has(v as number);
  }
  const relational = f.type === "many2one" || f.type === "one2many" || f.type === "many2many";
  if (relational && isNameValue(leaf.value)) {
    let ids = cache.get(leaf);
    const positive = NEGATIVE[op] ?? op;
    if (!ids) {
      ids = nameSearch(env, f.relation as string, leaf.value, positive);
      cache.set(leaf, ids);
    }
    const v = env.value(model, row, f.name);
    const set = ids;
    const hit = Array.isArray(v) ? v.some((x) => set.has(x as number)) : Boolean(v) && set.has(v as number);
    return op in NEGATIVE ? !hit : hit;
  }
  let v = f.name === "id" ? row.id : env.value(model, row, f.name);
  if (f.type === "one2many" || f.type === "many2many") return x2manyMatch(v as number[], op, leaf.value);
  if (f.type === "datetime" && typeof v === "string" && env.profile.datetimeWholeSeconds) v = v.slice(0, 19);
  return scalarMatch(f, v, op, leaf.value);
}

function isNameValue(value: unknown): boolean {
  if (typeof value === "string") return true;
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string");
}

function nameSearch(env: Env, model: string, value: unknown, op: string): Set<number> {
  const out = new Set<number>();
  const names = Array.isArray(value) ? (value as string[]) : [value as string];
  for (const row of env.db.table(model).values()) {
    const dn = env.displayName(model, row.id);
    const ok = names.some((n) =>
      op === "=" || op === "in" ? dn === n : likeMatch(dn, n, op === "=like" || op === "=ilike" ? op : op),
    );
    if (ok) out.add(row.id);
  }
  return out;
}

function hierarchy(env: Env, model: string, value: unknown, op: string): Set<number> {
  const def = env.model(model);
  let roots: number[];
  if (typeof value === "string") roots = [...nameSearch(env, model, value, "ilike")];
  else if (Array.isArray(value)) roots = value.filter((v): v is number => typeof v === "number");
  else if (typeof value === "number") roots = [value];
  else roots = [];
  const out = new Set<number>();
  if (!def.parentField) {
    for (const r of roots) out.add(r);
    return out;
  }
  const table = env.db.table(model);
  for (const root of roots) {
    const rootRow = table.get(root);
    if (!rootRow) continue;
    const rootPath = String(rootRow["parent_path"]);
    if (op === "child_of") {
      for (const row of table.values()) if (String(row["parent_path"]).startsWith(rootPath)) out.add(row.id);
    } else {
      for (const id of rootPath.split("/").filter(Boolean)) out.add(Number(id));
    }
  }
  return out;
}

function x2manyMatch(ids: number[], op: string, right: unknown): boolean {
  const list = Array.isArray(right) ? right : [right];
  switch (op) {
    case "=":
      return right === false || right === null ? ids.length === 0 : ids.includes(right as number);
    case "!=":
      return right === false || right === null ? ids.length > 0 : !ids.includes(right as number);
    case "in":
      return (list.includes(false) && ids.length === 0) || ids.some((id) => list.includes(id));
    case "not in":
      return !((list.includes(false) && ids.length === 0) || ids.some((id) => list.includes(id)));
    default:
      return ids.some((id) => scalarMatch({ type: "integer" } as FieldDef, id, op, right));
  }
}

function isNull(f: Pick<FieldDef, "type">, v: unknown): boolean {
  if (f.type === "boolean") return false;
  return v === false || v === null || v === undefined || v === "";
}

function equal(f: Pick<FieldDef, "type">, v: unknown, right: unknown): boolean {
  if (right === false || right === null) {
    if (f.type === "boolean") return v !== true;
    if (f.type === "integer" || f.type === "float" || f.type === "monetary") return v === 0 || isNull(f, v);
    return isNull(f, v);
  }
  if (isNull(f, v)) return false;
  if (f.type === "boolean") return (v === true) === Boolean(right);
  if (typeof v === "number") return v === Number(right);
  return String(v) === String(right);
}

function scalarMatch(f: Pick<FieldDef, "type">, v: unknown, op: string, rightIn: unknown): boolean {
  let right = rightIn;
  if (f.type === "datetime" && typeof right === "string" && right.length === 10) {
    right = `${right} ${op === ">" || op === "<=" ? "23:59:59" : "00:00:00"}`;
  }
  switch (op) {
    case "=":
      return equal(f, v, right);
    case "!=":
      return !equal(f, v, right);
    case "=?":
      return right === false || right === null || right === undefined ? true : equal(f, v, right);
    case "in":
    case "not in": {
      const list = Array.isArray(right) ? right : [right];
      const hit = list.some((r) => equal(f, v, r));
      return op === "in" ? hit : !hit;
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (isNull(f, v) || right === false || right === null) return false;
      const c =
        typeof v === "number"
          ? v - Number(right)
          : String(v) < String(right)
            ? -1
            : String(v) > String(right)
              ? 1
              : 0;
      return op === "<" ? c < 0 : op === "<=" ? c <= 0 : op === ">" ? c > 0 : c >= 0;
    }
    case "like":
    case "ilike":
    case "=like":
    case "=ilike":
      if (isNull(f, v)) return false;
      return likeMatch(String(v), String(right), op);
    case "not like":
    case "not ilike":
      if (isNull(f, v)) return true;
      return !likeMatch(String(v), String(right), op.slice(4));
    default:
      return false;
  }
}

/** SQL LIKE/ILIKE; `like`/`ilike` wrap the pattern in `%…%` as Odoo does, `=like`/`=ilike` do not. */
export function likeMatch(value: string, pattern: string, op: string): boolean {
  const raw = op === "like" || op === "ilike" ? `%${pattern}%` : pattern;
  let re = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch === "\\" && i + 1 < raw.length) {
      re += escapeRe(raw[++i] as string);
    } else if (ch === "%") re += "[\\s\\S]*";
    else if (ch === "_") re += "[\\s\\S]";
    else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`, op.includes("ilike") ? "i" : "").test(value);
}

function escapeRe(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
