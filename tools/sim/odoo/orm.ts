/**
 * The simulator's ORM: model and field definitions, the in-memory tables, transactions (one per RPC
 * call, rolled back on error), create/read/write/unlink/search with Odoo's value formatting
 * (many2one `[id, "name"]`, x2many id lists, empty values `false`, naive UTC datetimes), default
 * values (incl. `default_*` context keys), required fields and SQL UNIQUE constraints surfacing as
 * Odoo 16+ does (`odoo/service/model.py` `_as_validation_error`), and `create_date`/`write_date`
 * set to the transaction start time (`cr.now()`).
 *
 * Timestamps: PostgreSQL keeps the sub-second part of `now()`; Odoo reads datetimes to the second. The
 * tables keep milliseconds, reads and webhooks show `YYYY-MM-DD HH:MM:SS`; domains compare the stored
 * value up to 18 — `write_date > '…:05'` matches a row written at `…:05.300`, as on a real server —
 * and whole seconds from 19 (see Profile.datetimeWholeSeconds).
 */
import { checkDomain, type DomainNode, evaluateDomain, parseDomain } from "./domain.js";
import { MissingError, PythonError, ValidationError, valueError } from "./errors.js";
import type { Profile } from "./profiles.js";
import { pyRepr } from "./py.js";
import { ColumnTotals } from "./totals.js";

export type FieldType =
  | "char"
  | "text"
  | "html"
  | "integer"
  | "float"
  | "monetary"
  | "boolean"
  | "date"
  | "datetime"
  | "selection"
  | "many2one"
  | "one2many"
  | "many2many";

export type Vals = Record<string, unknown>;
export interface Row {
  id: number;
  [field: string]: unknown;
}

export interface FieldSpec {
  type: FieldType;
  string: string;
  required?: boolean;
  readonly?: boolean;
  index?: boolean;
  help?: string;
  /** Comodel of relational fields. */
  relation?: string;
  /** one2many: the many2one on the comodel pointing back. */
  inverse?: string;
  /** one2many: only comodel records matching this domain (Odoo's field `domain=`, e.g. no scrap moves). */
  domain?: unknown[];
  selection?: readonly (readonly [string, string])[];
  default?: unknown | ((env: Env, vals: Vals) => unknown);
  /** Not stored: computed on read (and searched by `search` when given). */
  compute?: (env: Env, row: Row) => unknown;
  search?: (env: Env, operator: string, value: unknown) => unknown[];
  /** Writes to a computed field go here (Odoo's `inverse=`). */
  setter?: (env: Env, id: number, value: unknown) => void;
  /** Not stored: read, searched and written through a dotted many2one path. */
  related?: string;
  /** many2one: what deleting the target does. @default "set null" */
  ondelete?: "cascade" | "restrict" | "set null";
  /** Hidden from read() without an explicit field list (passwords). */
  hidden?: boolean;
  /** Custom field (x_…): fields_get reports manual=true. */
  manual?: boolean;
  /**
   * Odoo's `copy=`: whether `copy()` / `copy_data()` (backorders, split moves) carry the value over.
   * @default true for stored fields other than one2many (Odoo's field default), false otherwise
   */
  copy?: boolean;
}

export interface FieldDef extends FieldSpec {
  name: string;
  stored: boolean;
}

/** A public model method reachable over RPC. */
export interface MethodSpec {
  /** `@api.model`: called without record ids. */
  model?: boolean;
  /** Python parameters after `self`, in order. */
  params?: readonly string[];
  /** How many of `params` have no default. @default 0 */
  required?: number;
  /** Accepts `**kwargs`. */
  varKw?: boolean;
  /**
   * ACL operation the caller must hold on the model ("none": the method checks rights itself, like
   * `check_access_rights`). @default "write" for record methods, "read" for model methods
   */
  access?: AclOp | "none";
  /**
   * Runs as the caller (x2many commands and related writes are ACL-checked on their models too), not
   * as the business methods do (after the entry check, as superuser). The generic create/write/unlink.
   */
  asUser?: boolean;
  fn: (call: MethodCall) => unknown;
}

export interface MethodCall {
  env: Env;
  model: string;
  ids: number[];
  kw: Record<string, unknown>;
}

export type AclOp = "read" | "write" | "create" | "unlink";

export interface SqlUnique {
  /** Constraint name as in ir.model.constraint, e.g. `x_threadline_posting_x_name_uniq`. */
  name: string;
  fields: readonly string[];
  /** A message registered in `_sql_constraints`; without one, PostgreSQL's own text reaches the client. */
  message?: string;
}

export interface ModelSpec {
  name: string;
  description: string;
  fields: Record<string, FieldSpec>;
  /** `_order`. @default "id" */
  order?: string;
  /** `_rec_name`. @default "name" when the model has one */
  recName?: string;
  /** `_parent_name` of hierarchical models (adds parent_path; enables child_of/parent_of). */
  parentField?: string;
  /** TransientModel (wizards). */
  transient?: boolean;
  methods?: Record<string, MethodSpec>;
  displayName?: (env: Env, row: Row) => string;
  sqlUnique?: readonly SqlUnique[];
  /** Python constraints (`@api.constrains`), run after create/write. */
  constrain?: (env: Env, ids: number[]) => void;
  /** The model's `create` override run on the caller's values, before defaults are added. */
  prepareCreate?: (env: Env, vals: Vals) => void;
  beforeCreate?: (env: Env, vals: Vals) => void;
  afterCreate?: (env: Env, ids: number[], valsList: Vals[]) => void;
  afterWrite?: (env: Env, ids: number[], vals: Vals) => void;
  beforeUnlink?: (env: Env, ids: number[]) => void;
  /** A custom model created over RPC (`ir.model` state manual). */
  manual?: boolean;
}

export interface ModelDef extends Omit<ModelSpec, "fields"> {
  fields: Record<string, FieldDef>;
  order: string;
  recName: string | undefined;
  methods: Record<string, MethodSpec>;
}

/** A copy of a Database (see `Database.snapshot`). */
export interface DatabaseSnapshot {
  readonly tables: Map<string, Map<number, Row>>;
  readonly models: Map<string, { def: ModelDef; fields: Record<string, FieldDef> }>;
  readonly nextIds: Map<string, number>;
  readonly sequences: Map<string, number>;
  readonly xmlIds: Map<string, { model: string; id: number }>;
  readonly users: Map<number, SimUser>;
  readonly copyTables: (from: Map<string, Map<number, Row>>) => Map<string, Map<number, Row>>;
}

export interface SimUser {
  id: number;
  login: string;
  name: string;
  password: string;
  apiKeys: string[];
  active: boolean;
}

/** Checks the ACL of a user (models/access.ts installs Odoo's `ir.model.access` check). */
export type AccessCheck = (env: Env, model: string, op: AclOp) => void;

/** A record created or written in a transaction, for automated actions (webhooks). */
export interface TxEvent {
  model: string;
  id: number;
  kind: "create" | "write";
  fields: string[];
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `YYYY-MM-DD HH:MM:SS[.mmm]` in UTC (milliseconds only when non-zero). */
export function formatDatetime(d: Date, withMillis = true): string {
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return withMillis && ms !== 0 ? `${base}.${pad(ms, 3)}` : base;
}

/**
 * A row's copy for the undo log: `structuredClone` of it, made faster. Stored values are primitives
 * or id lists (many2many), so a shallow copy does it; nested values, if any, are still cloned.
 */
function cloneRow(row: Row): Row {
  const copy: Row = { ...row };
  for (const key of Object.keys(copy)) {
    const v = copy[key];
    if (typeof v === "object" && v !== null) copy[key] = structuredClone(v);
  }
  return copy;
}

/** One RPC call's transaction: its start time and the undo log. */
export class Transaction {
  readonly nowString: string;
  readonly events: TxEvent[] = [];
  private readonly undo = new Map<string, Map<number, Row | null>>();
  /** Undoes changes that are not rows (the registry: custom models and fields), newest first. */
  private readonly undoActions: (() => void)[] = [];

  constructor(readonly now: Date) {
    this.nowString = formatDatetime(now);
  }

  /** Remembers a row's state before its first change in this transaction (null: did not exist). */
  remember(model: string, id: number, before: Row | undefined): void {
    let m = this.undo.get(model);
    if (!m) {
      m = new Map();
      this.undo.set(model, m);
    }
    if (!m.has(id)) m.set(id, before ? cloneRow(before) : null);
  }

  /** Registers how to undo a change outside the tables (run on rollback, newest first). */
  onRollback(fn: () => void): void {
    this.undoActions.push(fn);
  }

  rollback(
    tables: Map<string, Map<number, Row>>,
    restored: (model: string, id: number) => void = () => undefined,
  ): void {
    for (const fn of this.undoActions.reverse()) fn();
    this.undoActions.length = 0;
    for (const [model, rows] of this.undo) {
      const table = tables.get(model);
      if (!table) continue;
      for (const [id, before] of rows) {
        if (before === null) table.delete(id);
        else table.set(id, before);
        restored(model, id);
      }
    }
    this.undo.clear();
    this.events.length = 0;
  }

  record(event: TxEvent): void {
    this.events.push(event);
  }
}

// Odoo's MAGIC_COLUMNS: never copied (`copy_data` skips them).
const MAGIC_FIELDS: Record<string, FieldSpec> = {
  create_date: { type: "datetime", string: "Created on", readonly: true, copy: false },
  create_uid: { type: "many2one", string: "Created by", relation: "res.users", readonly: true, copy: false },
  write_date: { type: "datetime", string: "Last Updated on", readonly: true, copy: false },
  write_uid: {
    type: "many2one",
    string: "Last Updated by",
    relation: "res.users",
    readonly: true,
    copy: false,
  },
};

/** A field definition as registered: stored unless computed, related or one2many. */
export function fieldDef(name: string, f: FieldSpec): FieldDef {
  return { ...f, name, stored: !f.compute && !f.related && f.type !== "one2many" };
}

/** Whether `copy_data` carries the field over (Odoo: `copy=` or its default, True except one2many). */
export function isCopied(f: FieldDef): boolean {
  if (f.name === "id" || f.name === "display_name" || f.name === "parent_path") return false;
  if (f.copy !== undefined) return f.copy;
  return f.stored && f.type !== "one2many";
}

function buildModel(spec: ModelSpec, generic: Record<string, MethodSpec>): ModelDef {
  const fields: Record<string, FieldDef> = {
    id: { name: "id", type: "integer", string: "ID", readonly: true, stored: true },
  };
  for (const [name, f] of Object.entries(spec.fields)) fields[name] = fieldDef(name, f);
  if (spec.parentField)
    fields["parent_path"] = { name: "parent_path", type: "char", string: "Parent Path", stored: true };
  const recName = spec.recName ?? ("name" in spec.fields ? "name" : undefined);
  fields["display_name"] = {
    name: "display_name",
    type: "char",
    string: "Display Name",
    readonly: true,
    stored: false,
    compute: () => undefined,
  };
  for (const [name, f] of Object.entries(MAGIC_FIELDS)) fields[name] = { ...f, name, stored: true };
  return {
    ...spec,
    fields,
    order: spec.order ?? "id",
    recName,
    methods: { ...generic, ...(spec.methods ?? {}) },
  };
}

/** One column's index: the ids holding each value, and the value each id is filed under. */
interface ColumnIndex {
  readonly ids: Map<unknown, Set<number>>;
  readonly valueOf: Map<number, unknown>;
}

function indexRow(index: ColumnIndex, id: number, value: unknown): void {
  const ids = index.ids.get(value);
  if (ids) ids.add(id);
  else index.ids.set(value, new Set([id]));
  index.valueOf.set(id, value);
}

function unindexRow(index: ColumnIndex, id: number): void {
  if (!index.valueOf.has(id)) return;
  const value = index.valueOf.get(id);
  const ids = index.ids.get(value);
  ids?.delete(id);
  if (ids?.size === 0) index.ids.delete(value);
  index.valueOf.delete(id);
}

/** The whole simulated database: registry, tables, users, sequences and the clock. */
export class Database {
  readonly models = new Map<string, ModelDef>();
  readonly tables = new Map<string, Map<number, Row>>();
  readonly users = new Map<number, SimUser>();
  private readonly nextIds = new Map<string, number>();
  private readonly sequences = new Map<string, number>();
  /** xml ids of seed records, e.g. `stock.stock_location_stock` → id. */
  readonly xmlIds = new Map<string, { model: string; id: number }>();
  /** The ACL check of non-superuser environments; none installed: everything is allowed. */
  accessCheck: AccessCheck | undefined;
  /** Column indexes by model, then field (see `index`). */
  readonly #indexes = new Map<string, Map<string, ColumnIndex>>();
  /** Column totals by model, then grouping/summed/flag fields (see `totals`). */
  readonly #totals = new Map<string, Map<string, ColumnTotals>>();

  constructor(
    readonly name: string,
    readonly profile: Profile,
    readonly clock: () => Date,
    specs: readonly ModelSpec[],
    /** Methods every model answers (search, read, write, …), added to models registered later too. */
    private readonly genericMethods: Record<string, MethodSpec> = {},
  ) {
    for (const spec of specs) this.addModel(spec);
  }

  /** Registers a model (at start, or a custom model created through `ir.model`). */
  addModel(spec: ModelSpec): ModelDef {
    const def = buildModel(spec, this.genericMethods);
    this.models.set(spec.name, def);
    if (!this.tables.has(spec.name)) this.tables.set(spec.name, new Map());
    if (!this.nextIds.has(spec.name)) this.nextIds.set(spec.name, 1);
    return def;
  }

  /**
   * The ids of `model`'s rows by their stored value of `field` (`false` for empty): what PostgreSQL's
   * index on a many2one or char column gives Odoo, so that a search or a one2many read costs the rows
   * it finds, not the table (tables grow to 10⁵ rows in the peak bench). Built on first use, then kept
   * up to date row by row: every change of a stored value goes through the Env (create, write,
   * setRaw, updateRaw, unlink, x2many commands, parent paths) or a rollback, and each calls
   * `rowChanged`; code that sets a column directly calls `forgetIndexes`.
   */
  index(model: string, field: string): ReadonlyMap<unknown, ReadonlySet<number>> {
    let byField = this.#indexes.get(model);
    if (!byField) {
      byField = new Map();
      this.#indexes.set(model, byField);
    }
    let index = byField.get(field);
    if (!index) {
      index = { ids: new Map(), valueOf: new Map() };
      for (const row of this.table(model).values()) indexRow(index, row.id, row[field] ?? false);
      byField.set(field, index);
    }
    return index.ids;
  }

  /**
   * Per value of `groupField` of `model`'s rows: their count, how many have `flagField` true and the
   * sum of `sumField` as a loop in id order gives it (totals.ts) — a stock move's quantity from its
   * lines without reading them. Built on first use and kept up to date like the indexes.
   */
  totals(model: string, groupField: string, sumField: string, flagField: string): ColumnTotals {
    let byKey = this.#totals.get(model);
    if (!byKey) {
      byKey = new Map();
      this.#totals.set(model, byKey);
    }
    const key = `${groupField} ${sumField} ${flagField}`;
    let totals = byKey.get(key);
    if (!totals) {
      totals = new ColumnTotals(groupField, sumField, flagField);
      for (const row of this.table(model).values()) totals.rowChanged(row.id, row);
      byKey.set(key, totals);
    }
    return totals;
  }

  /** After row `id` of `model` was created, changed or deleted: its place in the indexes and totals. */
  rowChanged(model: string, id: number): void {
    const row = this.tables.get(model)?.get(id);
    const totals = this.#totals.get(model);
    if (totals) for (const t of totals.values()) t.rowChanged(id, row);
    const byField = this.#indexes.get(model);
    if (!byField) return;
    for (const [field, index] of byField) {
      const value = row ? (row[field] ?? false) : undefined;
      if (index.valueOf.get(id) === value && (row || !index.valueOf.has(id))) continue;
      unindexRow(index, id);
      if (row) indexRow(index, id, value);
    }
  }

  /** Drops `model`'s indexes and totals (rebuilt at their next use): after columns were set directly. */
  forgetIndexes(model: string): void {
    this.#indexes.delete(model);
    this.#totals.delete(model);
  }

  /** Removes a model from the registry (rollback of a custom model, or its deletion). */
  removeModel(model: string): void {
    this.models.delete(model);
    this.forgetIndexes(model);
  }

  /** Removes a field from a model (rollback of a custom field, or its deletion). */
  removeField(model: string, name: string): void {
    const def = this.models.get(model);
    if (def) delete def.fields[name];
    this.forgetIndexes(model);
  }

  /** Adds a field to a registered model (custom fields); existing rows get its empty value. */
  addField(model: string, name: string, spec: FieldSpec): FieldDef {
    const def = this.models.get(model);
    if (!def) throw valueError(`unknown model ${model}`);
    const f = fieldDef(name, spec);
    def.fields[name] = f;
    if (f.stored) for (const row of this.table(model).values()) if (!(name in row)) row[name] = emptyValue(f);
    this.forgetIndexes(model);
    return f;
  }

  /**
   * Everything the database holds — records, registry (custom models and fields), id counters,
   * sequences, xml ids, users — as a copy to restore later: an Odoo restored from an older backup.
   */
  snapshot(): DatabaseSnapshot {
    const copyTables = (from: Map<string, Map<number, Row>>) =>
      new Map([...from].map(([m, t]) => [m, new Map([...t].map(([id, row]) => [id, structuredClone(row)]))]));
    return {
      tables: copyTables(this.tables),
      models: new Map([...this.models].map(([m, def]) => [m, { def, fields: { ...def.fields } }])),
      nextIds: new Map(this.nextIds),
      sequences: new Map(this.sequences),
      xmlIds: new Map(this.xmlIds),
      users: new Map([...this.users].map(([id, u]) => [id, structuredClone(u)])),
      copyTables,
    };
  }

  /** Puts the database back as it was at `snapshot` (which can be restored again). */
  restore(snapshot: DatabaseSnapshot): void {
    const replace = <K, V>(target: Map<K, V>, from: Map<K, V>) => {
      target.clear();
      for (const [k, v] of from) target.set(k, v);
    };
    replace(this.tables, snapshot.copyTables(snapshot.tables));
    this.#indexes.clear();
    this.#totals.clear();
    this.models.clear();
    for (const [m, { def, fields }] of snapshot.models) {
      def.fields = { ...fields };
      this.models.set(m, def);
    }
    replace(this.nextIds, snapshot.nextIds);
    replace(this.sequences, snapshot.sequences);
    replace(this.xmlIds, snapshot.xmlIds);
    replace(this.users, new Map([...snapshot.users].map(([id, u]) => [id, structuredClone(u)])));
  }

  nextId(model: string): number {
    const id = this.nextIds.get(model) ?? 1;
    this.nextIds.set(model, id + 1);
    return id;
  }

  /** Next value of a named sequence (not rolled back, like PostgreSQL sequences). */
  nextSequence(code: string): number {
    const n = (this.sequences.get(code) ?? 0) + 1;
    this.sequences.set(code, n);
    return n;
  }

  table(model: string): Map<number, Row> {
    const t = this.tables.get(model);
    if (!t) throw valueError(`unknown model ${model}`);
    return t;
  }

  /** An environment of the superuser (uid 1, OdooBot) in `tx`, for seeding and setup. */
  superuserEnv(tx: Transaction, uid = 1): Env {
    return new Env(this, uid, {}, tx, true);
  }

  /** Runs `fn` in a new transaction; rolls back on error. */
  transaction<T>(fn: (tx: Transaction) => T): T {
    const tx = new Transaction(this.clock());
    try {
      return fn(tx);
    } catch (err) {
      tx.rollback(this.tables, (model, id) => this.rowChanged(model, id));
      throw err;
    }
  }
}

export interface SearchOptions {
  offset?: number;
  limit?: number | null;
  order?: string | null;
}

/** The environment business code runs in: a user, a context and a transaction. */
export class Env {
  constructor(
    readonly db: Database,
    readonly uid: number,
    readonly context: Record<string, unknown>,
    readonly tx: Transaction,
    readonly su = false,
  ) {}

  get profile(): Profile {
    return this.db.profile;
  }

  /** Before a row changes: its undo entry. */
  private remember(model: string, id: number, before: Row | undefined): void {
    this.tx.remember(model, id, before);
  }

  /** After a row changed: the indexes follow (Database.index). */
  private changed(model: string, id: number): void {
    this.db.rowChanged(model, id);
  }

  withContext(extra: Record<string, unknown>): Env {
    return new Env(this.db, this.uid, { ...this.context, ...extra }, this.tx, this.su);
  }

  sudo(): Env {
    return new Env(this.db, this.uid, this.context, this.tx, true);
  }

  /** Transaction start, as stored (`YYYY-MM-DD HH:MM:SS[.mmm]`). */
  now(): string {
    return this.tx.nowString;
  }

  today(): string {
    return this.tx.nowString.slice(0, 10);
  }

  model(name: string): ModelDef {
    const m = this.db.models.get(name);
    if (!m) throw new PythonError("builtins.KeyError", pyRepr(name), [name]);
    return m;
  }

  field(model: string, name: string): FieldDef {
    const f = this.model(model).fields[name];
    if (!f) throw valueError(`Invalid field ${pyRepr(name)} on model ${pyRepr(model)}`);
    return f;
  }

  hasField(model: string, name: string): boolean {
    return name in this.model(model).fields;
  }

  /** Raises AccessError when the user lacks `op` on `model` (superuser mode skips it). */
  checkAccess(model: string, op: AclOp): void {
    if (this.su) return;
    this.model(model);
    this.db.accessCheck?.(this, model, op);
  }

  /** The environment hooks run in: business logic after the caller's own ACL check, as sudo. */
  private hooks(): Env {
    return this.su ? this : this.sudo();
  }

  // ------------------------------------------------------------------ raw access

  exists(model: string, id: number): boolean {
    return this.db.table(model).has(id);
  }

  /** The stored row (MissingError when it does not exist). */
  row(model: string, id: number): Row {
    const row = this.db.table(model).get(id);
    if (!row) this.missing(model, [id]);
    return row as Row;
  }

  missing(model: string, ids: number[]): never {
    const recs = `${model}(${ids.join(", ")}${ids.length === 1 ? "," : ""})`;
    throw new MissingError(
      `Record does not exist or has been deleted.\n(Record: ${recs}, User: ${this.uid})`,
    );
  }

  /** A field's raw value: many2one id|false, x2many id list, scalars as stored. */
  get(model: string, id: number, fname: string): unknown {
    const row = this.row(model, id);
    return this.value(model, row, fname);
  }

  value(model: string, row: Row, fname: string): unknown {
    const f = this.field(model, fname);
    if (fname === "display_name") return this.displayName(model, row.id);
    if (f.related) {
      const [head, ...rest] = f.related.split(".");
      const target = row[head as string];
      const headField = this.field(model, head as string);
      if (!target || !headField.relation) return emptyValue(f);
      return this.get(headField.relation, target as number, rest.join("."));
    }
    if (f.compute) return f.compute(this, row);
    if (f.type === "one2many") {
      const comodel = f.relation as string;
      const co = this.db.table(comodel);
      const filter = f.domain ? parseDomain(f.domain) : undefined;
      const ids: number[] = [];
      for (const id of this.db.index(comodel, f.inverse as string).get(row.id) ?? []) {
        const r = co.get(id) as Row;
        if (!filter || evaluateDomain(this, comodel, r, filter)) ids.push(id);
      }
      return this.sortIds(comodel, ids);
    }
    const v = row[fname];
    return v === undefined ? emptyValue(f) : v;
  }

  /** The record's display name (`display_name` / `name_get`). */
  displayName(model: string, id: number): string {
    const def = this.model(model);
    const row = this.row(model, id);
    if (def.displayName) return def.displayName(this, row);
    if (def.recName) {
      const v = this.value(model, row, def.recName);
      if (Array.isArray(v))
        return v.length
          ? this.displayName(this.field(model, def.recName).relation as string, v[0] as number)
          : "";
      if (typeof v === "number" && this.field(model, def.recName).type === "many2one") {
        return v ? this.displayName(this.field(model, def.recName).relation as string, v) : "";
      }
      return v === false || v === undefined ? "" : String(v);
    }
    return `${model},${id}`;
  }

  // ------------------------------------------------------------------ search

  search(model: string, domain: unknown = [], opts: SearchOptions = {}): number[] {
    const def = this.model(model);
    const node = parseDomain(domain);
    checkDomain(this, model, node);
    const withActive = this.activeFilter(model, node);
    const table = this.db.table(model);
    const matched: Row[] = [];
    const candidates = this.indexedCandidates(model, node);
    for (const row of candidates ?? table.values()) {
      if (withActive && this.value(model, row, "active") === false) continue;
      if (evaluateDomain(this, model, row, node)) matched.push(row);
    }
    const sorted = this.sortRows(model, matched, opts.order ?? def.order);
    const offset = opts.offset ?? 0;
    const end = typeof opts.limit === "number" && opts.limit > 0 ? offset + opts.limit : undefined;
    return sorted.slice(offset, end).map((r) => r.id);
  }

  /**
   * The rows an index says may match (undefined: scan the table): for a domain that requires a
   * stored many2one to equal given ids, or a stored char field to equal given strings (`=` or `in`,
   * alone or in the top-level `&`). The whole domain is still evaluated on each; these are a superset
   * of its matches because such a leaf only matches a row holding one of those values.
   */
  private indexedCandidates(model: string, node: DomainNode): Row[] | undefined {
    const leaves = node.kind === "leaf" ? [node] : node.kind === "and" ? node.children : [];
    for (const leaf of leaves) {
      if (leaf.kind !== "leaf" || (leaf.op !== "=" && leaf.op !== "in") || leaf.path.includes(".")) continue;
      const f = this.model(model).fields[leaf.path];
      if (!f?.stored || f.related || f.compute) continue;
      const values = leaf.op === "in" ? leaf.value : [leaf.value];
      if (!Array.isArray(values)) continue;
      const indexable =
        f.type === "many2one"
          ? values.every((v) => Number.isInteger(v) && (v as number) > 0)
          : f.type === "char" && values.every((v) => typeof v === "string" && v !== "");
      if (!indexable) continue;
      const index = this.db.index(model, f.name);
      const table = this.db.table(model);
      const ids = new Set<number>();
      for (const v of values) for (const id of index.get(v) ?? []) ids.add(id);
      return [...ids].map((id) => table.get(id) as Row);
    }
    return undefined;
  }

  private activeFilter(model: string, node: DomainNode): boolean {
    if (!this.hasField(model, "active")) return false;
    if (this.context["active_test"] === false) return false;
    return !mentionsField(node, "active");
  }

  sortIds(model: string, ids: number[], order?: string): number[] {
    const rows = ids.map((id) => this.row(model, id));
    return this.sortRows(model, rows, order ?? this.model(model).order).map((r) => r.id);
  }

  sortRows(model: string, rows: Row[], order: string): Row[] {
    const specs = parseOrder(this, model, order);
    const keyed = rows.map((row) => ({ row, keys: specs.map((s) => this.sortKey(model, row, s.field)) }));
    keyed.sort((a, b) => {
      for (let i = 0; i < specs.length; i++) {
        const c = compareKeys(a.keys[i], b.keys[i], (specs[i] as OrderSpec).desc);
        if (c !== 0) return c;
      }
      return a.row.id - b.row.id;
    });
    return keyed.map((k) => k.row);
  }

  private sortKey(model: string, row: Row, fname: string): unknown {
    const f = this.field(model, fname);
    const v = this.value(model, row, fname);
    if (f.type === "many2one")
      return v ? this.displayName(f.relation as string, v as number).toLowerCase() : null;
    if (v === false) return f.type === "boolean" ? 0 : null;
    if (f.type === "boolean") return v ? 1 : 0;
    return v;
  }

  // ------------------------------------------------------------------ read

  /** `read()`: dicts with `id`, formatted as Odoo returns them over RPC. */
  read(
    model: string,
    ids: number[],
    fields?: readonly string[] | null,
    load: unknown = "_classic_read",
  ): Vals[] {
    const def = this.model(model);
    const names =
      fields && fields.length > 0
        ? [...fields]
        : Object.values(def.fields)
            .filter((f) => !f.hidden)
            .map((f) => f.name);
    for (const name of names) {
      if (!(name in def.fields)) throw valueError(`Invalid field ${pyRepr(name)} on model ${pyRepr(model)}`);
    }
    const missing = ids.filter((id) => !this.exists(model, id));
    if (missing.length) this.missing(model, missing);
    return ids.map((id) => {
      const row = this.row(model, id);
      const out: Vals = { id };
      for (const name of names) {
        if (name === "id") continue;
        out[name] = this.format(model, row, def.fields[name] as FieldDef, load === "_classic_read");
      }
      return out;
    });
  }

  /** One field of one row as read() shows it. */
  format(model: string, row: Row, f: FieldDef, classic = true): unknown {
    const v = this.value(model, row, f.name);
    switch (f.type) {
      case "many2one":
        if (!v) return false;
        return classic ? [v, this.displayName(f.relation as string, v as number)] : v;
      case "one2many":
      case "many2many":
        return Array.isArray(v) ? [...v] : [];
      case "integer":
        return typeof v === "number" ? v : 0;
      case "float":
      case "monetary":
        return typeof v === "number" ? v : 0;
      case "boolean":
        return v === true;
      case "datetime":
        return typeof v === "string" && v ? v.slice(0, 19) : false;
      default:
        return v === undefined || v === null || v === "" ? false : v;
    }
  }

  // ------------------------------------------------------------------ create / write / unlink

  create(model: string, vals: Vals): number {
    return this.createMany(model, [vals])[0] as number;
  }

  createMany(model: string, valsList: Vals[]): number[] {
    const def = this.model(model);
    this.checkAccess(model, "create");
    const hooks = this.hooks();
    const ids: number[] = [];
    const effective: Vals[] = [];
    for (const input of valsList) {
      const vals: Vals = { ...input };
      for (const key of Object.keys(vals)) {
        if (!(key in def.fields)) throw valueError(`Invalid field ${pyRepr(key)} on model ${pyRepr(model)}`);
      }
      def.prepareCreate?.(hooks, vals);
      hooks.applyDefaults(model, vals);
      def.beforeCreate?.(hooks, vals);
      const id = this.db.nextId(model);
      const row: Row = { id };
      for (const f of Object.values(def.fields)) {
        if (f.stored && f.name !== "id") row[f.name] = emptyValue(f);
      }
      row["create_date"] = this.now();
      row["write_date"] = this.now();
      row["create_uid"] = this.uid;
      row["write_uid"] = this.uid;
      this.remember(model, id, undefined);
      this.db.table(model).set(id, row);
      const x2many: [FieldDef, unknown][] = [];
      const setters: [FieldDef, unknown][] = [];
      const related: Vals = {};
      for (const [key, value] of Object.entries(vals)) {
        const f = def.fields[key] as FieldDef;
        if (f.name === "id" || f.name === "display_name") continue;
        if (f.related) related[key] = value;
        else if (f.type === "one2many" || f.type === "many2many") x2many.push([f, value]);
        else if (f.stored) row[key] = this.convert(model, f, value);
        else if (f.setter) setters.push([f, value]);
      }
      this.checkRequired(model, row);
      this.checkForeignKeys(model, row, Object.keys(vals));
      if (def.parentField) row["parent_path"] = this.parentPath(model, row);
      this.changed(model, id);
      for (const [f, value] of x2many) this.applyX2many(model, id, f, value);
      if (Object.keys(related).length) this.writeRelated(model, [id], related);
      for (const [f, value] of setters) f.setter?.(hooks, id, value);
      this.tx.record({ model, id, kind: "create", fields: Object.keys(vals) });
      ids.push(id);
      effective.push(vals);
    }
    this.checkUnique(model, ids);
    def.afterCreate?.(hooks, ids, effective);
    def.constrain?.(hooks, ids);
    return ids;
  }

  /**
   * Inserts a row as given (converted values, defaults of unset fields) without hooks, constraints or
   * access checks: reflection of the registry into `ir.model` / `ir.model.fields` at start.
   */
  insertRaw(model: string, vals: Vals): number {
    const def = this.model(model);
    const id = this.db.nextId(model);
    const row: Row = { id };
    const withDefaults: Vals = { ...vals };
    this.applyDefaults(model, withDefaults);
    for (const f of Object.values(def.fields)) {
      if (!f.stored || f.name === "id") continue;
      row[f.name] = f.name in withDefaults ? convertValue(model, f, withDefaults[f.name]) : emptyValue(f);
    }
    row["create_date"] = this.now();
    row["write_date"] = this.now();
    row["create_uid"] = this.uid;
    row["write_uid"] = this.uid;
    if (def.parentField) row["parent_path"] = this.parentPath(model, row);
    this.remember(model, id, undefined);
    this.db.table(model).set(id, row);
    this.changed(model, id);
    return id;
  }

  /**
   * Updates stored columns as given (converted values) without hooks, constraints, access checks or
   * automated actions, stamping `write_date`/`write_uid`: a direct SQL UPDATE (see `sim.sql`).
   */
  updateRaw(model: string, ids: number[], vals: Vals): void {
    const def = this.model(model);
    for (const key of Object.keys(vals)) {
      const f = def.fields[key];
      if (!f?.stored || f.type === "one2many" || f.type === "many2many")
        throw new RangeError(`${model}.${key} is not a stored column`);
    }
    for (const id of ids) {
      const row = this.row(model, id);
      this.remember(model, id, row);
      for (const [key, value] of Object.entries(vals))
        row[key] = convertValue(model, def.fields[key] as FieldDef, value);
      row["write_date"] = this.now();
      row["write_uid"] = this.uid;
      this.changed(model, id);
    }
    if (def.parentField && def.parentField in vals) this.refreshParentPaths(model);
  }

  /**
   * `copy_data(default)`: the stored values a copy starts from — fields whose `copy` flag is set
   * (Odoo: every field but one2many unless `copy=False`; custom fields as their `copied` flag says) —
   * overridden by `defaults`. One2many fields are not deep-copied here.
   */
  copyData(model: string, id: number, defaults: Vals = {}): Vals {
    const def = this.model(model);
    const row = this.row(model, id);
    const out: Vals = {};
    for (const f of Object.values(def.fields)) {
      if (!isCopied(f) || f.type === "one2many" || !f.stored) continue;
      const v = row[f.name];
      if (f.type === "many2many") out[f.name] = [[6, 0, [...((v as number[] | undefined) ?? [])]]];
      else out[f.name] = v === undefined ? emptyValue(f) : v;
    }
    for (const [k, v] of Object.entries(defaults)) if (v !== undefined) out[k] = v;
    return out;
  }

  applyDefaults(model: string, vals: Vals): void {
    const def = this.model(model);
    for (const f of Object.values(def.fields)) {
      if (f.name in vals) continue;
      const ctxKey = `default_${f.name}`;
      if (ctxKey in this.context) vals[f.name] = this.context[ctxKey];
      else if (f.default !== undefined)
        vals[f.name] =
          typeof f.default === "function"
            ? (f.default as (e: Env, v: Vals) => unknown)(this, vals)
            : f.default;
    }
  }

  write(model: string, ids: number[], vals: Vals): void {
    const def = this.model(model);
    if (ids.length === 0) return;
    this.checkAccess(model, "write");
    const hooks = this.hooks();
    for (const key of Object.keys(vals)) {
      if (!(key in def.fields)) throw valueError(`Invalid field ${pyRepr(key)} on model ${pyRepr(model)}`);
    }
    const missing = ids.filter((id) => !this.exists(model, id));
    if (missing.length) this.missing(model, missing);
    const related: Vals = {};
    for (const id of ids) {
      const row = this.row(model, id);
      this.remember(model, id, row);
      for (const [key, value] of Object.entries(vals)) {
        const f = def.fields[key] as FieldDef;
        if (f.name === "id" || f.name === "display_name" || f.type === "one2many" || f.type === "many2many")
          continue;
        if (f.related) related[key] = value;
        else if (f.stored) row[key] = this.convert(model, f, value);
      }
      row["write_date"] = this.now();
      row["write_uid"] = this.uid;
      this.checkRequired(model, row);
      this.checkForeignKeys(model, row, Object.keys(vals));
      this.changed(model, id);
      this.tx.record({ model, id, kind: "write", fields: Object.keys(vals) });
    }
    for (const [key, value] of Object.entries(vals)) {
      const f = def.fields[key] as FieldDef;
      if (f.type === "one2many" || f.type === "many2many")
        for (const id of ids) this.applyX2many(model, id, f, value);
    }
    if (Object.keys(related).length) this.writeRelated(model, ids, related);
    for (const [key, value] of Object.entries(vals)) {
      const f = def.fields[key] as FieldDef;
      if (f.setter && !f.stored) for (const id of ids) f.setter(hooks, id, value);
    }
    if (def.parentField && def.parentField in vals) this.refreshParentPaths(model);
    this.checkUnique(model, ids);
    def.afterWrite?.(hooks, ids, vals);
    def.constrain?.(hooks, ids);
  }

  /** Sets stored values without hooks (recomputations); still stamps write_date like Odoo's flush. */
  setRaw(model: string, id: number, vals: Vals): void {
    const row = this.row(model, id);
    this.remember(model, id, row);
    Object.assign(row, vals);
    row["write_date"] = this.now();
    row["write_uid"] = this.uid;
    this.changed(model, id);
    this.tx.record({ model, id, kind: "write", fields: Object.keys(vals) });
  }

  unlink(model: string, ids: number[]): void {
    const def = this.model(model);
    this.checkAccess(model, "unlink");
    const missing = ids.filter((id) => !this.exists(model, id));
    if (missing.length) this.missing(model, missing);
    def.beforeUnlink?.(this.hooks(), ids);
    const table = this.db.table(model);
    for (const id of ids) {
      this.remember(model, id, table.get(id));
      table.delete(id);
      this.changed(model, id);
    }
    // Foreign keys pointing at the deleted rows: cascade, restrict or set null.
    for (const [otherName, other] of this.db.models) {
      for (const f of Object.values(other.fields)) {
        if (!f.stored || f.relation !== model) continue;
        for (const row of this.db.table(otherName).values()) {
          if (f.type === "many2one" && ids.includes(row[f.name] as number)) {
            if (f.ondelete === "cascade") this.hooks().unlink(otherName, [row.id]);
            else if (f.ondelete === "restrict" || f.required) {
              throw new ValidationError(
                "The operation cannot be completed: another model requires the record being deleted. " +
                  `If possible, archive it instead.\n\nModel: ${other.description} (${otherName})\n` +
                  `Constraint: ${otherName.replace(/\./g, "_")}_${f.name}_fkey\n`,
              );
            } else this.setRaw(otherName, row.id, { [f.name]: false });
          } else if (f.type === "many2many" && Array.isArray(row[f.name])) {
            const kept = (row[f.name] as number[]).filter((x) => !ids.includes(x));
            if (kept.length !== (row[f.name] as number[]).length)
              this.setRaw(otherName, row.id, { [f.name]: kept });
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  private writeRelated(model: string, ids: number[], related: Vals): void {
    for (const [key, value] of Object.entries(related)) {
      const f = this.field(model, key);
      const [head, ...rest] = (f.related as string).split(".");
      const headField = this.field(model, head as string);
      for (const id of ids) {
        const target = this.get(model, id, head as string);
        if (target) this.write(headField.relation as string, [target as number], { [rest.join(".")]: value });
      }
    }
  }

  /** Applies Odoo x2many commands (or a plain id list) to a record. */
  private applyX2many(model: string, id: number, f: FieldDef, value: unknown): void {
    const comodel = f.relation as string;
    const commands = normalizeCommands(value);
    for (const cmd of commands) {
      const [code, arg1, arg2] = cmd as [number, unknown, unknown];
      if (f.type === "one2many") {
        const inv = f.inverse as string;
        if (code === 0) this.create(comodel, { ...(arg2 as Vals), [inv]: id });
        else if (code === 1) this.write(comodel, [arg1 as number], arg2 as Vals);
        else if (code === 2) this.unlink(comodel, [arg1 as number]);
        else if (code === 3) this.write(comodel, [arg1 as number], { [inv]: false });
        else if (code === 4) this.write(comodel, [arg1 as number], { [inv]: id });
        else if (code === 5)
          for (const cid of this.value(model, this.row(model, id), f.name) as number[])
            this.write(comodel, [cid], { [inv]: false });
        else if (code === 6) {
          const keep = new Set(arg2 as number[]);
          for (const cid of this.value(model, this.row(model, id), f.name) as number[])
            if (!keep.has(cid)) this.write(comodel, [cid], { [inv]: false });
          for (const cid of keep) this.write(comodel, [cid], { [inv]: id });
        }
        continue;
      }
      const row = this.row(model, id);
      const current = new Set((row[f.name] as number[] | undefined) ?? []);
      if (code === 0) current.add(this.create(comodel, arg2 as Vals));
      else if (code === 1) this.write(comodel, [arg1 as number], arg2 as Vals);
      else if (code === 2) {
        current.delete(arg1 as number);
        this.unlink(comodel, [arg1 as number]);
      } else if (code === 3) current.delete(arg1 as number);
      else if (code === 4) current.add(arg1 as number);
      else if (code === 5) current.clear();
      else if (code === 6) {
        current.clear();
        for (const x of arg2 as number[]) current.add(x);
      }
      for (const x of current) if (!this.exists(comodel, x)) this.fkViolation(model, f);
      this.remember(model, id, row);
      row[f.name] = [...current];
      this.changed(model, id);
    }
  }

  private convert(model: string, f: FieldDef, value: unknown): unknown {
    return convertValue(model, f, value);
  }

  private checkRequired(model: string, row: Row): void {
    const def = this.model(model);
    for (const f of Object.values(def.fields)) {
      if (!f.required || !f.stored) continue;
      const v = row[f.name];
      const empty =
        v === false ||
        v === null ||
        v === undefined ||
        (typeof v === "string" && v === "" && f.type !== "char");
      if (empty)
        throw new ValidationError(
          "The operation cannot be completed:\n" +
            "- Create/update: a mandatory field is not set.\n" +
            "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n" +
            `Model: ${def.description} (${model})\nField: ${f.string} (${f.name})\n`,
        );
    }
  }

  private checkForeignKeys(model: string, row: Row, touched: string[]): void {
    for (const name of touched) {
      const f = this.model(model).fields[name];
      if (f?.type !== "many2one" || !f.stored) continue;
      const v = row[name];
      if (v && !this.exists(f.relation as string, v as number)) this.fkViolation(model, f);
    }
  }

  private fkViolation(model: string, f: FieldDef): never {
    const def = this.model(model);
    throw new ValidationError(
      "The operation cannot be completed: another model requires the record being deleted. " +
        `If possible, archive it instead.\n\nModel: ${def.description} (${model})\n` +
        `Constraint: ${model.replace(/\./g, "_")}_${f.name}_fkey\n`,
    );
  }

  private checkUnique(model: string, ids: number[]): void {
    const def = this.model(model);
    for (const u of def.sqlUnique ?? []) {
      const table = this.db.table(model);
      for (const id of ids) {
        const row = table.get(id);
        if (!row) continue;
        const key = u.fields.map((f) => row[f]);
        if (key.some((k) => k === false || k === null || k === undefined)) continue; // NULLs are distinct
        for (const other of table.values()) {
          if (other.id === id) continue;
          if (u.fields.every((f, i) => other[f] === key[i])) {
            const detail = u.message
              ? u.message
              : `duplicate key value violates unique constraint "${u.name}"\n` +
                `DETAIL:  Key (${u.fields.join(", ")})=(${key.join(", ")}) already exists.\n`;
            throw new ValidationError(`The operation cannot be completed: ${detail}`);
          }
        }
      }
    }
  }

  private parentPath(model: string, row: Row): string {
    const pf = this.model(model).parentField as string;
    const parent = row[pf];
    const prefix = parent ? String(this.row(model, parent as number)["parent_path"] ?? "") : "";
    return `${prefix}${row.id}/`;
  }

  private refreshParentPaths(model: string): void {
    const table = this.db.table(model);
    const pf = this.model(model).parentField as string;
    const resolve = (row: Row, seen: Set<number>): string => {
      if (seen.has(row.id)) throw new ValidationError("Recursion Detected.");
      seen.add(row.id);
      const parent = row[pf] ? table.get(row[pf] as number) : undefined;
      return `${parent ? resolve(parent, seen) : ""}${row.id}/`;
    };
    for (const row of table.values()) {
      const path = resolve(row, new Set());
      if (row["parent_path"] !== path) {
        this.remember(model, row.id, row);
        row["parent_path"] = path;
        this.changed(model, row.id);
      }
    }
  }
}

/** Empty value of a field as stored. */
export function emptyValue(f: FieldSpec): unknown {
  switch (f.type) {
    case "integer":
    case "float":
    case "monetary":
      return 0;
    case "one2many":
    case "many2many":
      return [];
    default:
      return false;
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;

/** Odoo's `convert_to_cache` for one field value, with Python's error messages. */
export function convertValue(model: string, f: FieldSpec & { name: string }, value: unknown): unknown {
  const empty = value === false || value === null || value === undefined;
  switch (f.type) {
    case "char":
    case "text":
    case "html":
      if (empty) return false;
      return typeof value === "string"
        ? value
        : typeof value === "number" || typeof value === "boolean"
          ? pyStrOf(value)
          : JSON.stringify(value);
    case "integer": {
      if (empty) return 0;
      const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isFinite(n))
        throw valueError(`invalid literal for int() with base 10: ${pyRepr(value)}`);
      return Math.trunc(n);
    }
    case "float":
    case "monetary": {
      if (empty) return 0;
      const n = typeof value === "string" ? Number(value) : value;
      if (typeof n !== "number" || Number.isNaN(n))
        throw valueError(`could not convert string to float: ${pyRepr(value)}`);
      return n;
    }
    case "boolean":
      return Boolean(value) && !(Array.isArray(value) && value.length === 0);
    case "date":
      if (empty) return false;
      if (typeof value === "string" && (DATE_RE.test(value) || DATETIME_RE.test(value)))
        return value.slice(0, 10);
      throw valueError(`time data ${pyRepr(value)} does not match format '%Y-%m-%d'`);
    case "datetime":
      if (empty) return false;
      if (typeof value === "string" && DATETIME_RE.test(value)) return value.slice(0, 19);
      if (typeof value === "string" && DATE_RE.test(value)) return `${value} 00:00:00`;
      throw valueError(`time data ${pyRepr(value)} does not match format '%Y-%m-%d %H:%M:%S'`);
    case "selection": {
      if (empty) return false;
      if (!f.selection?.some(([k]) => k === value))
        throw valueError(`Wrong value for ${model}.${f.name}: ${pyRepr(value)}`);
      return value;
    }
    case "many2one":
      if (empty || value === 0) return false;
      if (Array.isArray(value) && typeof value[0] === "number") return value[0];
      if (typeof value !== "number" || !Number.isInteger(value))
        throw new PythonError(
          "psycopg2.errors.InvalidTextRepresentation",
          `invalid input syntax for type integer: "${String(value)}"\n`,
        );
      return value;
    default:
      return value;
  }
}

function pyStrOf(v: number | boolean): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  return String(v);
}

/** x2many write values: command triples, or a plain list of ids meaning "set". */
function normalizeCommands(value: unknown): unknown[][] {
  if (value === false || value === null || value === undefined) return [[5]];
  if (!Array.isArray(value)) throw valueError(`Wrong value for x2many field: ${pyRepr(value)}`);
  if (value.every((v) => typeof v === "number")) return [[6, 0, value]];
  return value.map((cmd) => {
    if (!Array.isArray(cmd) || typeof cmd[0] !== "number" || cmd[0] < 0 || cmd[0] > 6)
      throw valueError(`Wrong command ${pyRepr(cmd)} in x2many value`);
    return cmd;
  });
}

interface OrderSpec {
  field: string;
  desc: boolean;
}

/** Parses `"write_date asc, id asc"`; raises Odoo's ValueError on anything else. */
export function parseOrder(env: Env, model: string, order: string): OrderSpec[] {
  const out: OrderSpec[] = [];
  for (const part of order.split(",")) {
    const m = /^\s*([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?(?:\s+nulls\s+(?:first|last))?\s*$/i.exec(part);
    const f = m ? env.model(model).fields[m[1] as string] : undefined;
    if (!m || !f || (!f.stored && f.type !== "many2one" && !f.related)) {
      throw valueError(
        `Invalid "order" specified (${order}). A valid "order" specification is a comma-separated list of ` +
          "valid field names (optionally followed by asc/desc for the direction)",
      );
    }
    out.push({ field: m[1] as string, desc: (m[2] ?? "asc").toLowerCase() === "desc" });
  }
  return out;
}

/** PostgreSQL ordering: NULLs last ascending, first descending. */
function compareKeys(a: unknown, b: unknown, desc: boolean): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) {
    if (an && bn) return 0;
    return (an ? 1 : -1) * (desc ? -1 : 1);
  }
  let c = 0;
  if (typeof a === "number" && typeof b === "number") c = a - b;
  else c = String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  return desc ? -c : c;
}

function mentionsField(node: DomainNode, field: string): boolean {
  switch (node.kind) {
    case "leaf":
      return node.path === field || node.path.startsWith(`${field}.`);
    case "not":
      return mentionsField(node.child, field);
    case "and":
    case "or":
      return node.children.some((c) => mentionsField(c, field));
    default:
      return false;
  }
}
