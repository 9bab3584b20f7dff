/**
 * The building blocks every outbound posting is made of, each one call (one Odoo transaction) or a
 * read: records found by the event id they carry, buttons whose wizards are answered, lots ensured,
 * internal transfers driven from draft to done. Nothing here tests a version number: what differs
 * comes from fields.ts, or from asking Odoo (`fields_get`).
 *
 * The rule that makes postings exactly-once: the event id is written in the same call as the effect
 * (`x_threadline_event_id` on the record created or written), every posting searches for it first,
 * and a record found carrying it tells from its state where to resume.
 */
import { type Logger, PermanentError } from "../../../../streams/src/index.js";
import type { EquipmentMap } from "../equipment.js";
import type { OdooFields } from "../fields.js";
import { type OdooClient, OdooError } from "../odoo/index.js";
import { type ProductInfo, type ReferenceData, referenceOf } from "../reference/index.js";
import { OutboundErrorCode } from "./errors.js";

/** The custom char field (a Studio field) every posted record carries: the event id that made it. */
export const MARKER = "x_threadline_event_id";

/** What a posting function needs: the client, the version's field table, looked-up setup records. */
export interface PostingContext {
  readonly odoo: OdooClient;
  readonly fields: OdooFields;
  readonly setup: OdooSetup;
  /** Machines and lines → Odoo work centres. */
  readonly equipment: EquipmentMap;
  readonly logger: Logger;
  /** Units and products: the master data in the running connector. @default read from Odoo (reference/odoo.ts) */
  readonly reference?: ReferenceData;
}

/** One event as a posting function takes it (a ConsumedEvent fits). */
export interface PostingEvent<T> {
  /** ce-id: the idempotency key recorded in Odoo. */
  readonly id: string;
  readonly value: T;
}

/** A record a posting created or touched. */
export interface OdooRecord {
  readonly model: string;
  readonly id: number;
  readonly name: string | null;
}

export type PostingOutcome = "applied" | "already_applied" | "skipped";

export interface PostingResult {
  readonly outcome: PostingOutcome;
  /** Why nothing was posted (skipped), for logs. */
  readonly reason?: string;
  readonly records: readonly OdooRecord[];
}

export type Row = Record<string, unknown>;

/** The id of a many2one value (`[id, "name"]`, an id, or `false`). */
export function m2oId(value: unknown): number | false {
  if (Array.isArray(value) && typeof value[0] === "number") return value[0];
  return typeof value === "number" ? value : false;
}

export function m2oName(value: unknown): string | null {
  return Array.isArray(value) && typeof value[1] === "string" ? value[1] : null;
}

/** Ids of an x2many value, or of a many2one (as a one-element list). */
export function idsOf(value: unknown): number[] {
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    // A many2one read as [id, "name"] has a string second element: not this branch.
    return value as number[];
  }
  const id = m2oId(value);
  return id === false ? [] : [id];
}

/** Odoo's datetime format: naive UTC `YYYY-MM-DD HH:MM:SS`. */
export function odooDatetime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function fromOdooDatetime(value: unknown): Date | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const d = new Date(`${value.slice(0, 19).replace(" ", "T")}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** An exact decimal from an event as the float Odoo stores. */
export function quantityOf(decimal: string): number {
  const n = Number(decimal);
  if (!Number.isFinite(n))
    throw new PermanentError(OutboundErrorCode.QuantityInvalid, `not a quantity: ${decimal}`);
  return n;
}

/** Records of `model` carrying `eventId`, oldest first. */
export function markedRecords(
  ctx: PostingContext,
  model: string,
  eventId: string,
  fields: string[],
): Promise<Row[]> {
  return ctx.odoo.searchRead(model, [[MARKER, "=", eventId]], { fields, order: "id asc" });
}

/** Runs the postings of one key (an order, a downtime) one after the other within the process. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

// ------------------------------------------------------------------------------------ wizards

/** The wizard answers a posting gives: wizard model → the method that answers it. */
export type WizardAnswers = Readonly<Record<string, string>>;

interface WindowAction {
  type: "ir.actions.act_window";
  res_model: string;
  target?: string;
  context?: Record<string, unknown>;
}

function isWizard(result: unknown): result is WindowAction {
  if (typeof result !== "object" || result === null) return false;
  const a = result as Partial<WindowAction>;
  return a.type === "ir.actions.act_window" && typeof a.res_model === "string" && a.target === "new";
}

/**
 * Presses a button and answers the wizards it opens, as a user would: the wizard is created with
 * the action's context (its `default_*` keys fill it in) and its answering method is called with
 * that same context — Odoo's wizards read what to process from it. Returns the final result
 * (e.g. the backorder's form action, or true). A wizard without an answer is a permanent error.
 */
export async function pressButton(
  ctx: PostingContext,
  model: string,
  method: string,
  ids: number[],
  answers: WizardAnswers,
): Promise<unknown> {
  let result = await ctx.odoo.call(model, method, { ids });
  for (let depth = 0; isWizard(result); depth++) {
    const wizard: WindowAction = result;
    const answer = answers[wizard.res_model];
    if (!answer || depth >= 8)
      throw new PermanentError(
        OutboundErrorCode.WizardUnanswered,
        `${model}.${method} on ${ids.join(",")} opened the wizard ${wizard.res_model}, which the connector ` +
          "does not answer: finish it in Odoo, then replay the event from the dead-letter stream",
      );
    const context = wizard.context ?? {};
    const wizardId = await ctx.odoo.create(wizard.res_model, {}, { context });
    ctx.logger.debug({ model, method, wizard: wizard.res_model, answer }, "answering Odoo wizard");
    result = await ctx.odoo.call(wizard.res_model, answer, { ids: [wizardId], context });
  }
  return result;
}

// ------------------------------------------------------------------------------------ setup

/**
 * Records of the Odoo setup the postings refer to (locations, operation type, stages, loss
 * reasons, work centers), looked up over HTTP once and remembered. A failed lookup is forgotten,
 * so it is tried again with the next event.
 */
export class OdooSetup {
  private readonly cache = new Map<string, Promise<unknown>>();
  private readonly codes = new Map<number, string | null>();

  constructor(private readonly odoo: OdooClient) {}

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  /** A stock location by its full name (`WH/Quarantine`), else by its own name. */
  location(fullName: string): Promise<number> {
    return this.once(`location:${fullName}`, async () => {
      const [byFull] = await this.odoo.search("stock.location", [["complete_name", "=", fullName]], {
        limit: 1,
      });
      if (byFull !== undefined) return byFull;
      const name = fullName.slice(fullName.lastIndexOf("/") + 1);
      const [byName] = await this.odoo.search(
        "stock.location",
        [
          ["name", "=", name],
          ["usage", "=", "internal"],
        ],
        { limit: 1 },
      );
      if (byName !== undefined) return byName;
      throw new PermanentError(
        OutboundErrorCode.SetupMissing,
        `Odoo has no stock location "${fullName}": create it, or configure the connector's location names`,
      );
    });
  }

  /** The internal transfer operation type (the first by sequence). */
  internalPickingType(): Promise<number> {
    return this.once("picking-type:internal", async () => {
      const [id] = await this.odoo.search("stock.picking.type", [["code", "=", "internal"]], { limit: 1 });
      if (id !== undefined) return id;
      throw new PermanentError(
        OutboundErrorCode.SetupMissing,
        "Odoo has no internal transfer operation type (stock.picking.type with code internal)",
      );
    });
  }

  /** Whether `model` has `field` (fields_get), for fields whose presence varies by version. */
  hasField(model: string, field: string): Promise<boolean> {
    return this.once(`fields:${model}`, () =>
      this.odoo.call<Record<string, unknown>>(model, "fields_get", { attributes: ["type"] }),
    ).then((fields) => field in fields);
  }

  /** The first quality alert stage marked done ("Alert Processed", e.g. Solved). */
  doneAlertStage(): Promise<number> {
    return this.once("alert-stage:done", async () => {
      const [id] = await this.odoo.search("quality.alert.stage", [["done", "=", true]], {
        limit: 1,
        order: "sequence, id",
      });
      if (id !== undefined) return id;
      throw new PermanentError(
        OutboundErrorCode.SetupMissing,
        'Odoo has no quality alert stage marked "Alert Processed" (done): add one, e.g. Solved',
      );
    });
  }

  /** A loss reason of type availability: by name when given, else the first by sequence. */
  availabilityLoss(name?: string): Promise<number> {
    return this.once(`loss:${name ?? ""}`, async () => {
      const domain: unknown[] = [["loss_type", "=", "availability"]];
      if (name) domain.push(["name", "=", name]);
      const [id] = await this.odoo.search("mrp.workcenter.productivity.loss", domain, {
        limit: 1,
        order: "sequence, id",
      });
      if (id !== undefined) return id;
      throw new PermanentError(
        OutboundErrorCode.SetupMissing,
        `Odoo has no work center loss reason of type availability${name ? ` named "${name}"` : ""}`,
      );
    });
  }

  /** Codes of work centers by id (null: the work center has no code). Remembered per id. */
  async workcenterCodes(ids: readonly number[]): Promise<Map<number, string | null>> {
    const missing = ids.filter((id) => !this.codes.has(id));
    if (missing.length > 0)
      for (const row of await this.odoo.read("mrp.workcenter", [...missing], ["code"]))
        this.codes.set(
          row["id"] as number,
          typeof row["code"] === "string" && row["code"] !== "" ? row["code"] : null,
        );
    return new Map(ids.map((id) => [id, this.codes.get(id) ?? null]));
  }

  /** The loss reason of productive time ("Fully Productive Time", mrp.block_reason7 in Odoo's data). */
  productiveLoss(): Promise<number> {
    return this.once("loss:productive", async () => {
      // loss_type is a related field, not stored on 19: filter through loss_id explicitly.
      const [id] = await this.odoo.search(
        "mrp.workcenter.productivity.loss",
        [["loss_id.loss_type", "=", "productive"]],
        {
          limit: 1,
          order: "sequence, id",
        },
      );
      if (id !== undefined) return id;
      throw new PermanentError(
        OutboundErrorCode.SetupMissing,
        'Odoo has no work center loss reason of type productive (Odoo installs "Fully Productive Time")',
      );
    });
  }

  /**
   * What an operation type does with a remainder at close: ask, always or never (stock.picking.type).
   * Read at each close, not remembered: a planner may change it any day.
   */
  async createBackorder(pickingTypeId: number): Promise<"ask" | "always" | "never"> {
    const [row] = await this.odoo.read("stock.picking.type", [pickingTypeId], ["create_backorder"]);
    const value = row?.["create_backorder"];
    return value === "always" || value === "never" ? value : "ask";
  }

  /** A work center by its code. */
  workcenter(code: string): Promise<number> {
    return this.once(`workcenter:${code}`, async () => {
      const [id] = await this.odoo.search("mrp.workcenter", [["code", "=", code]], { limit: 1 });
      if (id !== undefined) return id;
      throw new PermanentError(
        OutboundErrorCode.WorkcenterNotFound,
        `Odoo has no work center with code "${code}": check the connector's line → work center map`,
      );
    });
  }
}

// ------------------------------------------------------------------------------------ products, lots

export type { ProductInfo } from "../reference/index.js";

export function productById(ctx: PostingContext, id: number): Promise<ProductInfo | undefined> {
  return referenceOf(ctx).productById(id);
}

/** A product by Odoo id when the event has it, else by internal reference (default_code). */
export async function findProduct(
  ctx: PostingContext,
  ref: { code: string; odooId: bigint | null },
): Promise<ProductInfo | undefined> {
  if (ref.odooId !== null) {
    const byId = await productById(ctx, Number(ref.odooId));
    if (byId) return byId;
  }
  return referenceOf(ctx).productByCode(ref.code);
}

export async function findLot(
  ctx: PostingContext,
  name: string,
  productId: number,
): Promise<number | undefined> {
  const [id] = await ctx.odoo.search(
    ctx.fields.lotModel,
    [
      ["name", "=", name],
      ["product_id", "=", productId],
    ],
    { limit: 1 },
  );
  return id;
}

/**
 * The lot `name` of a product, created (carrying the event id) when Odoo does not have it. Two
 * creators racing: Odoo refuses the second by the lot's uniqueness (a ValidationError, SQL
 * constraint in 16, Python constraint from 17), and the lot is searched again.
 */
export async function ensureLot(
  ctx: PostingContext,
  name: string,
  productId: number,
  eventId: string,
): Promise<{ id: number; created: boolean }> {
  const found = await findLot(ctx, name, productId);
  if (found !== undefined) return { id: found, created: false };
  try {
    const id = await ctx.odoo.create(ctx.fields.lotModel, { name, product_id: productId, [MARKER]: eventId });
    return { id, created: true };
  } catch (err) {
    // Permanent (the uniqueness refusal) or ambiguous (created, answer lost): look again.
    if (!(err instanceof OdooError) || (err.kind !== "permanent" && !err.ambiguous)) throw err;
    const again = await findLot(ctx, name, productId);
    if (again === undefined) throw err;
    return { id: again, created: false };
  }
}

// ------------------------------------------------------------------------------------ transfers

export interface TransferRequest {
  /** The event id the picking carries. */
  readonly eventId: string;
  /** Source document shown in Odoo, e.g. "Quality hold H-17". */
  readonly origin: string;
  readonly product: ProductInfo;
  readonly lotId: number;
  readonly quantity: number;
  readonly from: number;
  readonly to: number;
}

const PICKING_FIELDS = ["name", "state", "move_ids"];

/**
 * An internal transfer of one lot, driven to done and resumable at every step: the picking is
 * created with its move and the event id in one call; a redelivered event finds it by the event id
 * and carries on from its state (confirm, reserve, set the done quantity and lot, validate).
 */
export async function ensureTransfer(
  ctx: PostingContext,
  req: TransferRequest,
): Promise<{ record: OdooRecord; changed: boolean }> {
  const [existing] = await markedRecords(ctx, "stock.picking", req.eventId, PICKING_FIELDS);
  const picking = existing ?? (await createTransfer(ctx, req));
  const id = picking["id"] as number;
  const name = typeof picking["name"] === "string" ? picking["name"] : null;
  const record: OdooRecord = { model: "stock.picking", id, name };
  let state = String(picking["state"]);
  if (state === "done") return { record, changed: existing === undefined };
  if (state === "cancel")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `the transfer ${name} of event ${req.eventId} was cancelled in Odoo: nothing more is posted`,
    );
  if (state === "draft") {
    await ctx.odoo.call("stock.picking", "action_confirm", { ids: [id] });
    state = await pickingState(ctx, id);
  }
  if (state !== "assigned") await ctx.odoo.call("stock.picking", "action_assign", { ids: [id] });
  await setDoneQuantities(ctx, id, req);
  await pressButton(ctx, "stock.picking", "button_validate", [id], {
    "stock.immediate.transfer": "process",
    // Everything asked for is set done; a shortfall is not kept as a backorder.
    "stock.backorder.confirmation": "process_cancel_backorder",
  });
  state = await pickingState(ctx, id);
  if (state !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `the transfer ${name} is ${state} after validation, expected done`,
    );
  return { record, changed: true };
}

async function pickingState(ctx: PostingContext, id: number): Promise<string> {
  const [row] = await ctx.odoo.read("stock.picking", [id], ["state"]);
  return String(row?.["state"]);
}

async function createTransfer(ctx: PostingContext, req: TransferRequest): Promise<Row> {
  const move: Row = {
    product_id: req.product.id,
    product_uom_qty: req.quantity,
    location_id: req.from,
    location_dest_id: req.to,
  };
  if (req.product.uomId) move["product_uom"] = req.product.uomId;
  // stock.move.name is required up to 18 and gone in 19.
  if (await ctx.setup.hasField("stock.move", "name")) move["name"] = req.product.name ?? req.origin;
  const id = await ctx.odoo.create("stock.picking", {
    picking_type_id: await ctx.setup.internalPickingType(),
    location_id: req.from,
    location_dest_id: req.to,
    origin: req.origin,
    move_ids: [[0, 0, move]],
    [MARKER]: req.eventId,
  });
  const [row] = await ctx.odoo.read("stock.picking", [id], PICKING_FIELDS);
  if (!row) throw new Error(`stock.picking ${id} vanished right after its creation`);
  return row;
}

/** The done quantity and lot on the move lines (by value: a second run writes the same). */
async function setDoneQuantities(
  ctx: PostingContext,
  pickingId: number,
  req: TransferRequest,
): Promise<void> {
  const qtyField = ctx.fields.moveLineQty;
  const moves = await ctx.odoo.searchRead("stock.move", [["picking_id", "=", pickingId]], {
    fields: ["move_line_ids", "location_id", "location_dest_id"],
  });
  for (const move of moves) {
    const done: Row = { lot_id: req.lotId, [qtyField]: req.quantity };
    if (ctx.fields.hasPicked) done["picked"] = true;
    const [first, ...rest] = idsOf(move["move_line_ids"]);
    if (first === undefined) {
      await ctx.odoo.create("stock.move.line", {
        move_id: move["id"],
        picking_id: pickingId,
        product_id: req.product.id,
        ...(req.product.uomId ? { product_uom_id: req.product.uomId } : {}),
        location_id: m2oId(move["location_id"]),
        location_dest_id: m2oId(move["location_dest_id"]),
        ...done,
      });
    } else {
      await ctx.odoo.write("stock.move.line", [first], done, { idempotent: true });
      if (rest.length) await ctx.odoo.write("stock.move.line", rest, { [qtyField]: 0 }, { idempotent: true });
    }
  }
}
