/**
 * What Threadline needs in Odoo, created over RPC and checked at every start.
 *
 * Postings are exactly-once because Odoo itself remembers what was applied, in the same transaction
 * as the effect:
 * - `x_threadline_posting`, a custom model with one record per applied shop-floor event (its event
 *   id as `x_name`), created through the one2many `x_threadline_posting_ids` of the manufacturing
 *   order or work order in the very write that changes the quantity or logs the time;
 * - `x_threadline_event_id`, a char field on the records a posting creates (scraps, lots,
 *   transfers, time logs, quality records).
 *
 * Every field is created `copied = False`: Odoo copies custom fields into backorders, split moves
 * and duplicates by default (ir_model.py `_compute_copied`), and a backorder carrying its parent's
 * event id would read as "already posted". And indexed: postings look records up by event id.
 *
 * `setupOdoo` creates what is missing and fixes what is wrong (idempotent; needs a user in
 * Administration / Access Rights, `base.group_erp_manager`). `checkOdooSetup` is what the connector
 * runs at start as its own, least-privileged user: existence from `fields_get`, the copy flag from
 * `ir.model.fields` when that user may read it, else from the record setup leaves behind.
 */
import { ThreadlineError } from "../../../contracts/src/index.js";
import type { OdooClient } from "./odoo/client.js";
import { OdooError } from "./odoo/errors.js";

export const POSTING_MODEL = "x_threadline_posting";
export const EVENT_ID_FIELD = "x_threadline_event_id";
export const POSTINGS_FIELD = "x_threadline_posting_ids";
/** The record `setupOdoo` leaves in POSTING_MODEL, listing what it verified. */
export const SETUP_RECORD = "threadline-setup";

type FieldType = "char" | "float" | "boolean" | "datetime" | "many2one" | "one2many" | "text";

export interface FieldSpec {
  readonly model: string;
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
  readonly relation?: string;
  readonly relationField?: string;
  readonly index?: boolean;
  /** The model only exists with an optional module (quality: Enterprise `quality_control`). */
  readonly optionalModel?: boolean;
}

/** Where the event id marker goes: records a posting creates. */
const MARKED_MODELS: readonly { model: string; optional?: boolean }[] = [
  { model: "stock.scrap" },
  { model: "stock.lot" },
  { model: "stock.picking" },
  { model: "mrp.workcenter.productivity" },
  { model: "quality.alert", optional: true },
  { model: "quality.check", optional: true },
];

/** Every field Threadline needs, in creation order (the posting model's fields before the one2manys). */
export const REQUIRED_FIELDS: readonly FieldSpec[] = [
  { model: POSTING_MODEL, name: "x_kind", type: "char", description: "Kind (report, close, setup)" },
  { model: POSTING_MODEL, name: "x_event_type", type: "char", description: "Event type (ce-type)" },
  {
    model: POSTING_MODEL,
    name: "x_production_id",
    type: "many2one",
    relation: "mrp.production",
    description: "Manufacturing order",
    index: true,
  },
  {
    model: POSTING_MODEL,
    name: "x_workorder_id",
    type: "many2one",
    relation: "mrp.workorder",
    description: "Work order",
    index: true,
  },
  { model: POSTING_MODEL, name: "x_machine", type: "char", description: "Machine (line/machine)" },
  { model: POSTING_MODEL, name: "x_counting_point", type: "boolean", description: "Counting point" },
  { model: POSTING_MODEL, name: "x_good_qty", type: "float", description: "Good quantity" },
  { model: POSTING_MODEL, name: "x_reject_qty", type: "float", description: "Rejected quantity" },
  { model: POSTING_MODEL, name: "x_running_minutes", type: "float", description: "Running time (min)" },
  { model: POSTING_MODEL, name: "x_reported_at", type: "datetime", description: "Shop-floor time" },
  { model: POSTING_MODEL, name: "x_details", type: "text", description: "Details (JSON)" },
  {
    model: "mrp.production",
    name: POSTINGS_FIELD,
    type: "one2many",
    relation: POSTING_MODEL,
    relationField: "x_production_id",
    description: "Threadline postings",
  },
  {
    model: "mrp.workorder",
    name: POSTINGS_FIELD,
    type: "one2many",
    relation: POSTING_MODEL,
    relationField: "x_workorder_id",
    description: "Threadline postings",
  },
  ...MARKED_MODELS.map(
    ({ model, optional }): FieldSpec => ({
      model,
      name: EVENT_ID_FIELD,
      type: "char",
      description: "Threadline Event ID",
      index: true,
      ...(optional ? { optionalModel: true } : {}),
    }),
  ),
];

/** Odoo is not set up for Threadline: says which model and field, and what to run. */
export class OdooSetupError extends ThreadlineError {
  constructor(
    readonly problems: readonly string[],
    hint = "run `threadline odoo setup` as an Odoo administrator (Settings → Users: Administration / Access Rights)",
  ) {
    super("CONNECTOR_SETUP_INCOMPLETE", `Odoo is not set up for Threadline: ${problems.join("; ")}; ${hint}`);
  }
}

export interface SetupAction {
  readonly what: string;
  readonly done: "created" | "fixed" | "ok";
}

interface FieldRow {
  id: number;
  model: string;
  name: string;
  ttype: string;
  copied: boolean;
  index: boolean;
}

async function modelExists(odoo: OdooClient, model: string): Promise<boolean> {
  return (await odoo.searchCount("ir.model", [["model", "=", model]])) > 0;
}

/**
 * Creates (or fixes) everything REQUIRED_FIELDS lists, grants the connector's group
 * (`mrp.group_mrp_user` by default) access to the posting model, and leaves the setup record.
 * With `dryRun`, only says what it would do.
 */
export async function setupOdoo(
  odoo: OdooClient,
  options: { dryRun?: boolean; group?: string } = {},
): Promise<SetupAction[]> {
  const actions: SetupAction[] = [];
  const act = async (what: string, done: SetupAction["done"], apply: () => Promise<unknown>) => {
    actions.push({ what, done });
    if (done !== "ok" && !options.dryRun) await apply();
  };
  let postingModelId = (await odoo.search("ir.model", [["model", "=", POSTING_MODEL]]))[0];
  await act(`model ${POSTING_MODEL}`, postingModelId === undefined ? "created" : "ok", async () => {
    postingModelId = await odoo.create("ir.model", {
      name: "Threadline posting",
      model: POSTING_MODEL,
      state: "manual",
    });
  });
  const modelIds = new Map<string, number>();
  for (const spec of REQUIRED_FIELDS) {
    if (spec.optionalModel && !(await modelExists(odoo, spec.model))) continue;
    const label = `${spec.model}.${spec.name}`;
    const [existing] = await odoo.searchRead<FieldRow>(
      "ir.model.fields",
      [
        ["model", "=", spec.model],
        ["name", "=", spec.name],
      ],
      { fields: ["model", "name", "ttype", "copied", "index"] },
    );
    if (existing) {
      if (existing.ttype !== spec.type)
        throw new OdooSetupError(
          [`${label} exists as ${existing.ttype}, Threadline needs ${spec.type}`],
          "rename or remove that field in Odoo (Settings → Technical → Fields), then run setup again",
        );
      const fix: Record<string, unknown> = {};
      if (existing.copied) fix["copied"] = false;
      if (spec.index && !existing.index) fix["index"] = true;
      await act(
        `field ${label}${Object.keys(fix).length ? ` (${Object.keys(fix).join(", ")})` : ""}`,
        Object.keys(fix).length ? "fixed" : "ok",
        () => odoo.write("ir.model.fields", [existing.id], fix),
      );
      continue;
    }
    await act(`field ${label} (${spec.type})`, "created", async () => {
      let modelId = modelIds.get(spec.model);
      if (modelId === undefined) {
        modelId =
          spec.model === POSTING_MODEL
            ? (postingModelId as number)
            : (await odoo.search("ir.model", [["model", "=", spec.model]]))[0];
        if (modelId === undefined) throw new OdooSetupError([`Odoo has no model ${spec.model}`]);
        modelIds.set(spec.model, modelId);
      }
      await odoo.create("ir.model.fields", {
        model_id: modelId,
        name: spec.name,
        field_description: spec.description,
        ttype: spec.type,
        state: "manual",
        copied: false,
        index: spec.index ?? false,
        ...(spec.relation ? { relation: spec.relation } : {}),
        ...(spec.relationField ? { relation_field: spec.relationField } : {}),
      });
    });
  }
  await grantAccess(odoo, options.group ?? "mrp.group_mrp_user", postingModelId, act);
  const verified = REQUIRED_FIELDS.map((f) => `${f.model}.${f.name}`);
  const [record] = await odoo.search(POSTING_MODEL, [["x_name", "=", SETUP_RECORD]]).catch(() => []);
  await act(`setup record ${SETUP_RECORD}`, record === undefined ? "created" : "fixed", () =>
    record === undefined
      ? odoo.create(POSTING_MODEL, {
          x_name: SETUP_RECORD,
          x_kind: "setup",
          x_details: JSON.stringify({ copied: false, fields: verified }),
        })
      : odoo.write(POSTING_MODEL, [record], {
          x_details: JSON.stringify({ copied: false, fields: verified }),
        }),
  );
  return actions;
}

async function grantAccess(
  odoo: OdooClient,
  groupXmlId: string,
  modelId: number | undefined,
  act: (what: string, done: SetupAction["done"], apply: () => Promise<unknown>) => Promise<void>,
): Promise<void> {
  const [module, name] = groupXmlId.split(".") as [string, string];
  const [data] = await odoo.searchRead<{ res_id: number }>(
    "ir.model.data",
    [
      ["module", "=", module],
      ["name", "=", name],
      ["model", "=", "res.groups"],
    ],
    { fields: ["res_id"] },
  );
  if (!data)
    throw new OdooSetupError([`Odoo has no group ${groupXmlId}`], "is the Manufacturing app installed?");
  const existing =
    modelId === undefined
      ? []
      : await odoo.search("ir.model.access", [
          ["model_id", "=", modelId],
          ["group_id", "=", data.res_id],
        ]);
  await act(
    `access to ${POSTING_MODEL} for ${groupXmlId} (read, write, create)`,
    existing.length ? "ok" : "created",
    async () => {
      const id = modelId ?? (await odoo.search("ir.model", [["model", "=", POSTING_MODEL]]))[0];
      await odoo.create("ir.model.access", {
        name: `${POSTING_MODEL} ${groupXmlId}`,
        model_id: id,
        group_id: data.res_id,
        perm_read: true,
        perm_write: true,
        perm_create: true,
        perm_unlink: false,
      });
    },
  );
}

/**
 * Refuses (OdooSetupError naming each model and field) when a required field is missing, or is
 * copied into backorders and duplicates. Runs as the connector's own user. Returns what only
 * limits the connector: an optional model (quality, Enterprise) absent or closed to this user —
 * its postings will be dead-lettered with Odoo's error.
 */
export async function checkOdooSetup(odoo: OdooClient): Promise<string[]> {
  const problems: string[] = [];
  const notes: string[] = [];
  const byModel = new Map<string, FieldSpec[]>();
  for (const spec of REQUIRED_FIELDS) byModel.set(spec.model, [...(byModel.get(spec.model) ?? []), spec]);
  for (const [model, specs] of byModel) {
    let fields: Record<string, { type?: string }>;
    try {
      fields = await odoo.call<Record<string, { type?: string }>>(model, "fields_get", {
        attributes: ["type"],
      });
    } catch (err) {
      if (specs.every((s) => s.optionalModel) && (isUnknownModel(err) || isAccessError(err))) {
        notes.push(
          isUnknownModel(err)
            ? `${model} does not exist (Enterprise quality_control not installed): quality postings are dead-lettered`
            : `${model} is closed to this user (no Quality / User group): quality postings are dead-lettered`,
        );
        continue;
      }
      if (isUnknownModel(err)) {
        problems.push(`model ${model} does not exist`);
        continue;
      }
      throw err;
    }
    for (const spec of specs) {
      const field = fields[spec.name];
      if (!field) problems.push(`${model}.${spec.name} is missing`);
      else if (field.type !== spec.type)
        problems.push(`${model}.${spec.name} is ${field.type}, not ${spec.type}`);
    }
  }
  if (problems.length === 0) problems.push(...(await copiedProblems(odoo)));
  if (problems.length > 0) throw new OdooSetupError(problems);
  return notes;
}

function isAccessError(err: unknown): boolean {
  return err instanceof OdooError && /AccessError/.test(err.odooName);
}

/** Fields copied into backorders/duplicates: from ir.model.fields when readable, else the setup record. */
async function copiedProblems(odoo: OdooClient): Promise<string[]> {
  const names = [...new Set(REQUIRED_FIELDS.map((f) => f.name))];
  try {
    const rows = await odoo.searchRead<FieldRow>(
      "ir.model.fields",
      [
        ["name", "in", names],
        ["copied", "=", true],
      ],
      { fields: ["model", "name", "copied"] },
    );
    const required = new Set(REQUIRED_FIELDS.map((f) => `${f.model}.${f.name}`));
    return rows
      .filter((r) => required.has(`${r.model}.${r.name}`))
      .map((r) => `${r.model}.${r.name} is copied into backorders and duplicates (copied must be off)`);
  } catch (err) {
    if (!isAccessError(err)) throw err;
  }
  // Not allowed to read field definitions (a least-privileged user): trust what setup verified.
  const [record] = await odoo.searchRead<{ x_details: string | false }>(
    POSTING_MODEL,
    [["x_name", "=", SETUP_RECORD]],
    { fields: ["x_details"] },
  );
  if (!record || typeof record.x_details !== "string")
    return [`the ${SETUP_RECORD} record is missing, so the copy flags cannot be verified by this user`];
  const details = JSON.parse(record.x_details) as { copied?: boolean; fields?: string[] };
  const missing = REQUIRED_FIELDS.filter(
    (f) => !f.optionalModel && !details.fields?.includes(`${f.model}.${f.name}`),
  );
  if (details.copied !== false || missing.length > 0)
    return [
      `setup has not verified ${missing.map((f) => `${f.model}.${f.name}`).join(", ") || "the copy flags"}`,
    ];
  return [];
}

function isUnknownModel(err: unknown): boolean {
  return (
    err instanceof OdooError &&
    (/doesn't exist|does not exist/.test(err.odooMessage) || err.httpStatus === 404)
  );
}
