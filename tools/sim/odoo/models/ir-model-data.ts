/**
 * `ir.model.data`: the external identifiers (xml ids) of records — how a client finds a group or a
 * location by its stable name (`mrp.group_mrp_user`) instead of a database id. The simulator's seed
 * records it as Odoo's data files do; a row per xml id: `module`, `name`, `model`, `res_id`.
 *
 * Access as in base/security/ir.model.access.csv (16–19): `base.group_erp_manager` reads and writes,
 * plain users nothing (`access_ir_model_data_user` is 0,0,0,0).
 */
import type { Database, ModelSpec } from "../orm.js";

export function irModelDataModels(): ModelSpec[] {
  return [
    {
      name: "ir.model.data",
      description: "Model Data",
      recName: "name",
      fields: {
        name: { type: "char", string: "External Identifier", required: true },
        module: { type: "char", string: "Module", required: true },
        model: { type: "char", string: "Model Name", required: true },
        res_id: { type: "integer", string: "Record ID" },
        noupdate: { type: "boolean", string: "Non Updatable" },
      },
    },
  ];
}

/** Records every xml id the seed registered (call once the database is seeded). */
export function recordXmlIds(db: Database): void {
  db.transaction((tx) => recordIn(db, db.superuserEnv(tx)));
}

function recordIn(db: Database, env: ReturnType<Database["superuserEnv"]>): void {
  const known = new Set(
    [...db.table("ir.model.data").values()].map((r) => `${String(r["module"])}.${String(r["name"])}`),
  );
  for (const [xmlId, { model, id }] of db.xmlIds) {
    if (known.has(xmlId)) continue;
    const dot = xmlId.indexOf(".");
    env.insertRaw("ir.model.data", {
      module: xmlId.slice(0, dot),
      name: xmlId.slice(dot + 1),
      model,
      res_id: id,
      noupdate: true,
    });
  }
}
