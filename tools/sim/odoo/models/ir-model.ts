/**
 * The registry as data: `ir.model` and `ir.model.fields`. At start every model and field of the
 * simulator is reflected (state `base`); a client with `base.group_erp_manager` creates custom models
 * (`x_…`, state `manual`) and custom fields that become live at once — readable, writable,
 * searchable, one2many commands, copied on `copy_data` as their `copied` flag says — and that
 * disappear again if the call fails (the registry change is undone with the transaction).
 *
 * Source: base/models/ir_model.py of 16/17/18/19 (the trees of tools/sim/odoo/README.md, "Conformance"):
 * - `IrModel._default_field_id`: a new custom model gets `x_name` (char "Name", copied) unless
 *   `field_id` is given; `_check_model_name`: "The model name must start with 'x_'." (ValidationError);
 *   SQL `obj_name_uniq` "Each model must have a unique name.".
 * - `IrModelFields`: `copied` is a stored compute with `readonly=False` (`_compute_copied`: true unless
 *   one2many, related or computed); `index` a Boolean; `state` manual by default; `create` takes
 *   `model` from `model_id`; the `x_` rule is a Python constraint in 16 (ValidationError "Custom fields
 *   must have a name that starts with 'x_' !") and the SQL constraint `name_manual_field` from 17
 *   (ValidationError "The operation cannot be completed: Custom fields must have a name that starts
 *   with 'x_'!"); `name_unique` "Field names must be unique per model."; `_check_name` ("Field names
 *   can only contain characters, digits and underscores (up to 63)."); `_check_relation` ("Unknown
 *   model name '%s' in Related Model"); one2many needs the many2one ("Many2one %s on model %s does
 *   not exist!"); writes on base fields: "Properties of base fields cannot be altered in this manner!
 *   …"; changing `ttype` or `model_id`: refused as Odoo does.
 *
 * Not simulated: `compute`/`depends` (Python code), `selection_ids` (use the `selection` string),
 * `ir.model.fields.selection`, `ir.model.constraint`, `ir.ui.view`.
 */
import { PythonError, UserError, ValidationError, valueError } from "../errors.js";
import type { Database, Env, FieldSpec, FieldType, ModelSpec, Row, Vals } from "../orm.js";
import type { Profile } from "../profiles.js";

const TTYPES: readonly (readonly [string, string])[] = [
  ["binary", "binary"],
  ["boolean", "boolean"],
  ["char", "char"],
  ["date", "date"],
  ["datetime", "datetime"],
  ["float", "float"],
  ["html", "html"],
  ["integer", "integer"],
  ["many2many", "many2many"],
  ["many2one", "many2one"],
  ["monetary", "monetary"],
  ["one2many", "one2many"],
  ["selection", "selection"],
  ["text", "text"],
];
const SUPPORTED = new Set<string>([
  "boolean",
  "char",
  "date",
  "datetime",
  "float",
  "html",
  "integer",
  "many2many",
  "many2one",
  "monetary",
  "one2many",
  "selection",
  "text",
]);

const PG_NAME = /^[a-z_][a-z0-9_$]*$/i;
const OBJECT_NAME = /^[a-z0-9_.]+$/;

export function irModelModels(): ModelSpec[] {
  return [
    {
      name: "ir.model",
      description: "Models",
      order: "model",
      recName: "name",
      fields: {
        name: { type: "char", string: "Model Description", required: true },
        model: { type: "char", string: "Model", required: true, default: "x_" },
        order: { type: "char", string: "Order", required: true, default: "id" },
        info: { type: "text", string: "Information" },
        field_id: {
          type: "one2many",
          string: "Fields",
          relation: "ir.model.fields",
          inverse: "model_id",
          copy: true,
        },
        access_ids: { type: "one2many", string: "Access", relation: "ir.model.access", inverse: "model_id" },
        state: {
          type: "selection",
          string: "Type",
          selection: [
            ["manual", "Custom Object"],
            ["base", "Base Object"],
          ],
          default: "manual",
          readonly: true,
        },
        transient: { type: "boolean", string: "Transient Model" },
      },
      sqlUnique: [
        { name: "ir_model_obj_name_uniq", fields: ["model"], message: "Each model must have a unique name." },
      ],
      beforeCreate: (env, vals) => {
        const manual = (vals["state"] ?? "manual") === "manual";
        // `_default_field_id`: a custom model gets `x_name` unless fields are given
        if (manual && !("field_id" in vals) && !env.context["install_mode"])
          vals["field_id"] = [
            [0, 0, { name: "x_name", field_description: "Name", ttype: "char", copied: true }],
          ];
        const model = String(vals["model"] ?? "");
        if (manual && !model.startsWith("x_"))
          throw new ValidationError("The model name must start with 'x_'.");
        if (!OBJECT_NAME.test(model))
          throw new ValidationError(
            "The model name can only contain lowercase characters, digits, underscores and dots.",
          );
        if (manual && !env.db.models.has(model)) registerManualModel(env, model, vals);
      },
      beforeUnlink: (env, ids) => {
        for (const id of ids) {
          const r = env.row("ir.model", id);
          if (r["state"] !== "manual")
            throw new UserError("Model 'Models' contains module data and cannot be removed.");
          const name = String(r["model"]);
          const def = env.db.models.get(name);
          env.db.removeModel(name);
          if (def) env.tx.onRollback(() => env.db.models.set(name, def));
        }
      },
    },
    {
      name: "ir.model.fields",
      description: "Fields",
      order: "name",
      recName: "field_description",
      fields: {
        name: { type: "char", string: "Field Name", required: true, default: "x_" },
        complete_name: { type: "char", string: "Complete Name" },
        model: { type: "char", string: "Model Name", required: true, index: true },
        relation: { type: "char", string: "Related Model" },
        relation_field: { type: "char", string: "Relation Field" },
        model_id: {
          type: "many2one",
          string: "Model",
          relation: "ir.model",
          required: true,
          ondelete: "cascade",
        },
        field_description: { type: "char", string: "Field Label", required: true, default: "" },
        help: { type: "text", string: "Field Help" },
        ttype: { type: "selection", string: "Field Type", selection: TTYPES, required: true },
        selection: { type: "char", string: "Selection Options (Deprecated)" },
        copied: { type: "boolean", string: "Copied" },
        related: { type: "char", string: "Related Field" },
        required: { type: "boolean", string: "Required" },
        readonly: { type: "boolean", string: "Readonly" },
        index: { type: "boolean", string: "Indexed" },
        translate: { type: "boolean", string: "Translatable" },
        size: { type: "integer", string: "Size" },
        state: {
          type: "selection",
          string: "Type",
          selection: [
            ["manual", "Custom Field"],
            ["base", "Base Field"],
          ],
          default: "manual",
          required: true,
          readonly: true,
        },
        on_delete: {
          type: "selection",
          string: "On Delete",
          selection: [
            ["cascade", "Cascade"],
            ["set null", "Set NULL"],
            ["restrict", "Restrict"],
          ],
          default: "set null",
        },
        domain: { type: "char", string: "Domain", default: "[]" },
        store: { type: "boolean", string: "Stored", default: true },
        compute: { type: "text", string: "Compute" },
        depends: { type: "char", string: "Dependencies" },
        relation_table: { type: "char", string: "Relation Table" },
        column1: { type: "char", string: "Column 1" },
        column2: { type: "char", string: "Column 2" },
      },
      sqlUnique: [
        {
          name: "ir_model_fields_name_unique",
          fields: ["model", "name"],
          message: "Field names must be unique per model.",
        },
      ],
      beforeCreate: (env, vals) => {
        if (vals["model_id"] && env.exists("ir.model", vals["model_id"] as number))
          vals["model"] = env.get("ir.model", vals["model_id"] as number, "model");
        // `_compute_copied` (stored, readonly=False): the default unless given
        if (!("copied" in vals))
          vals["copied"] = vals["ttype"] !== "one2many" && !vals["related"] && !vals["compute"];
        const name = String(vals["name"] ?? "");
        if ((vals["state"] ?? "manual") === "manual") checkManualName(env.profile, name);
      },
      afterCreate: (env, ids) => {
        for (const id of ids) {
          const r = env.row("ir.model.fields", id);
          env.setRaw("ir.model.fields", id, { complete_name: `${r["model"]}.${r["name"]}` });
          if (r["state"] === "manual") instantiateField(env, r);
        }
      },
      afterWrite: (env, ids, vals) => {
        for (const id of ids) {
          const r = env.row("ir.model.fields", id);
          // `copied` follows its compute when what it depends on changes, unless given
          if (!("copied" in vals) && ("related" in vals || "compute" in vals))
            env.setRaw("ir.model.fields", id, {
              copied: r["ttype"] !== "one2many" && !r["related"] && !r["compute"],
            });
          if (r["state"] === "manual") instantiateField(env, env.row("ir.model.fields", id));
        }
      },
      beforeUnlink: (env, ids) => {
        for (const id of ids) {
          const r = env.row("ir.model.fields", id);
          if (r["state"] !== "manual")
            throw new UserError("This column contains module data and cannot be removed!");
          const model = String(r["model"]);
          const name = String(r["name"]);
          const before = env.db.models.get(model)?.fields[name];
          env.db.removeField(model, name);
          if (before)
            env.tx.onRollback(() => {
              const def = env.db.models.get(model);
              if (def) def.fields[name] = before;
            });
        }
      },
      methods: {
        write: {
          params: ["vals"],
          required: 1,
          access: "write",
          asUser: true,
          fn: ({ env, ids, kw }) => {
            const vals = kw["vals"] as Vals;
            if (!vals || typeof vals !== "object" || Array.isArray(vals))
              throw valueError("write() expects a dict of values");
            const translateOnly = Object.keys(vals).every((k) => k === "field_description" || k === "help");
            for (const id of ids) {
              const r = env.row("ir.model.fields", id);
              if (translateOnly) continue;
              if (r["state"] !== "manual")
                throw new UserError(
                  "Properties of base fields cannot be altered in this manner! Please modify them through Python code, preferably through a custom addon!",
                );
              if ("model_id" in vals && vals["model_id"] !== r["model_id"])
                throw new UserError("Changing the model of a field is forbidden!");
              if ("ttype" in vals && vals["ttype"] !== r["ttype"])
                throw new UserError(
                  "Changing the type of a field is not yet supported. Please drop it and create it again!",
                );
              if ("name" in vals && vals["name"] !== r["name"])
                throw new UserError("Renaming a custom field is not simulated: drop it and create it again.");
            }
            env.write("ir.model.fields", ids, vals);
            return true;
          },
        },
      },
    },
  ];
}

function checkManualName(p: Profile, name: string): void {
  if (!name.startsWith("x_")) {
    // 16: `_check_name` (Python constraint); 17+: SQL CHECK `name_manual_field` (IntegrityError)
    if (p.version === 16) throw new ValidationError("Custom fields must have a name that starts with 'x_' !");
    throw new ValidationError(
      "The operation cannot be completed: Custom fields must have a name that starts with 'x_'!",
    );
  }
  if (!PG_NAME.test(name) || name.length > 63)
    throw new ValidationError("Field names can only contain characters, digits and underscores (up to 63).");
}

/** Adds a custom model to the registry (undone if the transaction fails). */
function registerManualModel(env: Env, model: string, vals: Vals): void {
  const spec: ModelSpec = {
    name: model,
    description: String(vals["name"] ?? model),
    order: String(vals["order"] ?? "id"),
    // custom models show `x_name` as their name (models.py `_rec_name` of custom models)
    recName: "x_name",
    transient: vals["transient"] === true,
    manual: true,
    fields: {},
  };
  env.db.addModel(spec);
  env.tx.onRollback(() => {
    env.db.removeModel(model);
    env.db.tables.delete(model);
  });
}

/** Builds the live field of a custom `ir.model.fields` row (`_instanciate_attrs`). */
function instantiateField(env: Env, r: Row): void {
  const model = String(r["model"]);
  const name = String(r["name"]);
  const ttype = String(r["ttype"]);
  const def = env.db.models.get(model);
  if (!def) throw new ValidationError(`Unknown model name '${model}'`);
  const relation = r["relation"] ? String(r["relation"]) : undefined;
  if (relation && !env.db.models.has(relation))
    throw new ValidationError(`Unknown model name '${relation}' in Related Model`);
  if (!SUPPORTED.has(ttype))
    throw valueError(`the simulator does not support custom fields of type ${ttype}`);
  if (r["compute"])
    throw new PythonError(
      "builtins.NotImplementedError",
      "the simulator runs no Python code: custom computed fields are not simulated",
    );
  if ((ttype === "many2one" || ttype === "many2many" || ttype === "one2many") && !relation)
    throw new ValidationError(`Unknown model name '' in Related Model`);
  const spec: FieldSpec = {
    type: ttype as FieldType,
    string: String(r["field_description"] || name),
    manual: true,
    required: r["required"] === true,
    readonly: r["readonly"] === true,
    index: r["index"] === true,
    copy: r["copied"] === true,
  };
  if (r["help"]) spec.help = String(r["help"]);
  if (relation) spec.relation = relation;
  if (ttype === "many2one") spec.ondelete = (r["on_delete"] || "set null") as FieldSpec["ondelete"];
  if (ttype === "one2many") {
    const inverse = String(r["relation_field"] || "");
    const target = env.db.models.get(relation as string)?.fields[inverse];
    if (target?.type !== "many2one")
      throw new UserError(`Many2one ${inverse || "False"} on model ${relation} does not exist!`);
    spec.inverse = inverse;
  }
  if (ttype === "selection") spec.selection = parseSelection(String(r["selection"] || "[]"));
  if (r["related"]) {
    spec.related = String(r["related"]);
    spec.copy = r["copied"] === true;
  }
  const before = def.fields[name];
  env.db.addField(model, name, spec);
  env.tx.onRollback(() => {
    const current = env.db.models.get(model);
    if (!current) return;
    if (before) current.fields[name] = before;
    else delete current.fields[name];
  });
}

/** Parses the deprecated `selection` string, a Python list of pairs: `[('a', 'A'), ('b', 'B')]`. */
export function parseSelection(text: string): [string, string][] {
  const strings: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null = re.exec(text);
  while (m) {
    strings.push((m[1] ?? m[2] ?? "").replace(/\\(.)/g, "$1"));
    m = re.exec(text);
  }
  const stripped = text.replace(re, "").replace(/[\s[\](),]/g, "");
  if (stripped !== "" || strings.length % 2 !== 0)
    throw valueError(`malformed selection ${JSON.stringify(text)}: expected [('value', 'Label'), …]`);
  const out: [string, string][] = [];
  for (let i = 0; i < strings.length; i += 2) out.push([strings[i] as string, strings[i + 1] as string]);
  return out;
}

/**
 * Reflects the registry into `ir.model` and `ir.model.fields` (state `base`), as Odoo does at module
 * install (`_reflect_models`, `_reflect_fields`). Raw inserts: thousands of rows, no hooks needed.
 */
export function reflectRegistry(env: Env, db: Database): void {
  for (const def of db.models.values()) {
    const modelId = env.insertRaw("ir.model", {
      name: def.description,
      model: def.name,
      state: "base",
      order: def.order,
      transient: def.transient === true,
    });
    for (const f of Object.values(def.fields)) {
      env.insertRaw("ir.model.fields", {
        name: f.name,
        complete_name: `${def.name}.${f.name}`,
        model: def.name,
        model_id: modelId,
        field_description: f.string,
        help: f.help ?? false,
        ttype: f.type,
        relation: f.relation ?? false,
        relation_field: f.type === "one2many" ? (f.inverse ?? false) : false,
        related: f.related ?? false,
        required: f.required === true,
        readonly: f.readonly === true,
        index: f.index === true,
        store: f.stored,
        copied: f.copy ?? (f.stored && f.type !== "one2many"),
        state: "base",
      });
    }
  }
}
