/**
 * What the simulator's specification suites share: a simulator per profile and sessions of its users
 * over JSON-RPC (the real HTTP API), with the few calls every suite needs.
 */
import assert from "node:assert/strict";
import { type JsonRpcEnvelope, RawOdooClient } from "../../tools/sim/odoo/client.js";
import type { OdooSimulator, OdooSimulatorOptions, SimCredentials } from "../../tools/sim/odoo/server.js";
import { startOdooSimulator } from "../../tools/sim/odoo/server.js";

export type Row = Record<string, unknown>;
export type Action = {
  type: string;
  res_model: string;
  name?: string;
  target?: string;
  xml_id?: string;
  view_mode?: string;
  context: Record<string, unknown>;
  res_id?: number;
  domain?: unknown[];
};

/** The many2one id of a read value (`[id, name]`) or false. */
export const m2o = (v: unknown): number | false =>
  Array.isArray(v) ? (v[0] as number) : (v as number | false);

/** One user's JSON-RPC session (`object.execute_kw`). */
export class Session {
  constructor(
    readonly client: RawOdooClient,
    readonly db: string,
    readonly user: SimCredentials,
  ) {}

  private get auth() {
    return { db: this.db, uid: this.user.uid, password: this.user.password };
  }

  call<T = unknown>(model: string, method: string, args: unknown[] = [], kwargs: Row = {}): Promise<T> {
    return this.client.call<T>(this.auth, model, method, args, kwargs);
  }

  /** The raw envelope (result or error), for calls expected to fail. */
  envelope(model: string, method: string, args: unknown[] = [], kwargs: Row = {}): Promise<JsonRpcEnvelope> {
    return this.client.executeKw(this.auth, model, method, args, kwargs);
  }

  /** Calls and asserts the Odoo error: its Python class name and message (string or pattern). */
  async fails(
    model: string,
    method: string,
    args: unknown[],
    name: string,
    message?: string | RegExp,
    kwargs: Row = {},
  ): Promise<string> {
    const env = await this.envelope(model, method, args, kwargs);
    assert.ok(env.error, `${model}.${method} should fail with ${name}, got ${JSON.stringify(env.result)}`);
    assert.equal(env.error.data["name"], name, String(env.error.data["message"]));
    const got = String(env.error.data["message"]);
    if (typeof message === "string") assert.equal(got, message);
    else if (message) assert.match(got, message);
    return got;
  }

  async read(model: string, id: number, fields: string[]): Promise<Row> {
    return ((await this.call<Row[]>(model, "read", [[id], fields])) as Row[])[0] as Row;
  }

  async readMany(model: string, ids: number[], fields: string[]): Promise<Row[]> {
    return (await this.call<Row[]>(model, "read", [ids, fields])) as Row[];
  }

  search(model: string, domain: unknown[], kwargs: Row = {}): Promise<number[]> {
    return this.call<number[]>(model, "search", [domain], kwargs);
  }

  async product(code: string): Promise<number> {
    const [id] = await this.search("product.product", [["default_code", "=", code]]);
    assert.ok(id, `no product ${code}`);
    return id as number;
  }

  /** A confirmed manufacturing order of `qty` units of `code`. */
  async newMo(code: string, qty: number, vals: Row = {}): Promise<number> {
    const id = await this.call<number>("mrp.production", "create", [
      { product_id: await this.product(code), product_qty: qty, origin: "SPEC", ...vals },
    ]);
    await this.call("mrp.production", "action_confirm", [[id]]);
    return id;
  }

  /** The order's component moves: product code → { id, quantity, picked, state, … }. */
  async components(mo: number, fields: string[] = []): Promise<Map<string, Row>> {
    const qty = this.qtyField;
    const ids = (await this.read("mrp.production", mo, ["move_raw_ids"]))["move_raw_ids"] as number[];
    const moves = await this.readMany("stock.move", ids, [
      "product_id",
      "product_uom_qty",
      qty,
      "state",
      ...(this.version >= 17 ? ["picked"] : []),
      ...fields,
    ]);
    const out = new Map<string, Row>();
    for (const m of moves) {
      const name = String((m["product_id"] as [number, string])[1]);
      const code = /^\[([^\]]+)\]/.exec(name)?.[1] ?? name;
      out.set(code, { ...m, quantity: m[qty] });
    }
    return out;
  }

  version = 17;

  /** The done quantity field of stock.move: `quantity_done` (16) or `quantity` (17+). */
  get qtyField(): string {
    return this.version === 16 ? "quantity_done" : "quantity";
  }

  /** Creates the wizard of an action with its context and calls `method` with that context (as the UI does). */
  async answer(action: Action, method: string, vals: Row = {}): Promise<unknown> {
    const id = await this.call<number>(action.res_model, "create", [vals], { context: action.context });
    return this.call(action.res_model, method, [[id]], { context: action.context });
  }
}

export interface SimFixture {
  sim: OdooSimulator;
  admin: Session;
  integration: Session;
  restricted: Session;
}

export async function openSim(
  profile: 16 | 17 | 18 | 19,
  options: Partial<OdooSimulatorOptions> = {},
): Promise<SimFixture> {
  const sim = await startOdooSimulator({ profile, seed: 3, ...options });
  const client = new RawOdooClient(sim.url);
  const session = (u: SimCredentials) => {
    const s = new Session(client, sim.db, u);
    s.version = profile;
    return s;
  };
  return {
    sim,
    admin: session(sim.users.admin),
    integration: session(sim.users.integration),
    restricted: session(sim.users.restricted),
  };
}

export interface SpecBom {
  tracking?: "none" | "lot" | "serial";
  consumption?: "flexible" | "warning" | "strict";
  /** [component code, quantity per unit, index of the operation consuming it] */
  lines: ([string, number] | [string, number, number])[];
  /** [work centre code, minutes per unit] */
  ops?: [string, number][];
}

/** A finished product with its BoM, made by the administrator (a manufacturing manager). */
export async function specProduct(admin: Session, code: string, bom: SpecBom): Promise<number> {
  const storable = admin.version >= 18 ? { type: "consu", is_storable: true } : { type: "product" };
  const product = await admin.call<number>("product.product", "create", [
    { name: `Spec ${code}`, default_code: code, tracking: bom.tracking ?? "none", ...storable },
  ]);
  const tmpl = m2o((await admin.read("product.product", product, ["product_tmpl_id"]))["product_tmpl_id"]);
  const bomId = await admin.call<number>("mrp.bom", "create", [
    { product_tmpl_id: tmpl, product_qty: 1, consumption: bom.consumption ?? "flexible", code },
  ]);
  const ops: number[] = [];
  for (const [i, [wc, minutes]] of (bom.ops ?? []).entries()) {
    const [center] = await admin.search("mrp.workcenter", [["code", "=", wc]]);
    ops.push(
      await admin.call<number>("mrp.routing.workcenter", "create", [
        {
          name: `Op ${i + 1}`,
          workcenter_id: center,
          bom_id: bomId,
          sequence: i + 1,
          time_cycle_manual: minutes,
        },
      ]),
    );
  }
  for (const [comp, qty, op] of bom.lines)
    await admin.call("mrp.bom.line", "create", [
      {
        bom_id: bomId,
        product_id: await admin.product(comp),
        product_qty: qty,
        ...(op !== undefined ? { operation_id: ops[op] } : {}),
      },
    ]);
  return product;
}
