/**
 * ProductionReported → Odoo: the good quantity is produced on the order's open manufacturing order
 * (with the lot, for a tracked product) and the order is marked done; when less than planned was
 * made, Odoo's backorder wizard is answered "create a backorder", so the rest stays open as the
 * next order of the family (`WH/MO/00012-001` done, `WH/MO/00012-002` open). Each report is thus
 * one manufacturing order carrying the report's event id — which is what makes it exactly-once.
 *
 * Steps (each one Odoo transaction; a redelivered event resumes after the last one applied):
 * 1. An order carrying the event id and done: already posted (ProductionPosted is published again
 *    with the same id, in case it was not the first time). Carrying it but not done: go to 4.
 * 2. The open order of the family: the order named `orderRef`, or its backorders `<ref>-NNN`.
 * 3. The lot (created with the event id when Odoo does not have it), then ONE write:
 *    `qty_producing` = good + rejected, the produced lot (per fields.ts) and the event id.
 * 4. `button_mark_done`, answering the backorder wizard (and 16's immediate production and the
 *    consumption warning). Refused permanently (a missing lot, …): step 3 is undone, so the order
 *    is not left half-posted, and the event is dead-lettered with Odoo's message.
 *
 * 5. Rejects: ONE `stock.scrap` of the rejected quantity from the order just done — the order's
 *    product, `production_id` that order, the lot for a tracked product and the event id — created
 *    in one call, then `action_validate`. Odoo then shows the order as "produced 7, scrapped 2" and
 *    only the good units stay in stock.
 *    A scrap carrying the event id decides: draft → validated, done → already applied. Odoo picks
 *    the source (mrp: the done order's finished products location, else its components location)
 *    and the scrap location (its own default, whatever the version: nothing for fields.ts). A
 *    refusal (a tracked product without a lot, the "insufficient quantity" wizard when Odoo's stock
 *    is short) is dead-lettered; the good quantity stays posted and a replay resumes at the scrap.
 *
 * A report without an order, or with neither good nor rejected quantity, posts nothing.
 */
import type { ProductionPosted, ProductionReported } from "../../../../contracts/src/events.generated.js";
import { PermanentError } from "../../../../streams/src/consumer.js";
import { OdooError } from "../odoo/index.js";
import { OutboundErrorCode } from "./errors.js";
import {
  ensureLot,
  fromOdooDatetime,
  idsOf,
  KeyedLock,
  MARKER,
  m2oId,
  m2oName,
  markedRecords,
  type OdooRecord,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  pressButton,
  productById,
  quantityOf,
  type Row,
  type WizardAnswers,
} from "./steps.js";

export interface ProductionPostingOptions {
  /**
   * How the consumption warning (BoM consumption "warning") is answered: keep the consumption as
   * recorded (`confirm`), or reset it to the BoM's expectation (`set_qty`). @default "confirm"
   */
  consumptionWarning?: "confirm" | "set_qty";
}

export interface ProductionPosting extends PostingResult {
  /** The ProductionPosted payload to publish (applied or already applied). */
  readonly posted?: ProductionPosted;
}

const OPEN_STATES = new Set(["confirmed", "progress", "to_close"]);

/**
 * Two reports of one order must never run at once (both would write the same open order). The
 * consumer already serialises them by order (`orderingKey`); this lock holds even for a message whose
 * order could not be read before decoding.
 */
const orderLocks = new KeyedLock();

function moFields(ctx: PostingContext): string[] {
  return [
    "name",
    "state",
    "product_id",
    "qty_producing",
    "backorder_sequence",
    "date_finished",
    "product_uom_id",
    ctx.fields.moLotProducing.field,
  ];
}

export async function postProductionReported(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  options: ProductionPostingOptions = {},
): Promise<ProductionPosting> {
  const r = event.value;
  if (r.orderRef === null)
    return { outcome: "skipped", reason: "no production order was active", records: [] };
  const good = quantityOf(r.goodQuantity.value);
  const reject = quantityOf(r.rejectQuantity.value);
  if (good <= 0 && reject <= 0)
    return { outcome: "skipped", reason: "no good or rejected quantity to post", records: [] };
  return orderLocks.run(r.orderRef.replace(/-\d{3}$/, ""), () => post(ctx, event, good, reject, options));
}

type Lot = { id: number; name: string };

/** What the production part left: the done order, its lot, and whether this run applied it. */
interface GoodPart {
  readonly mo: Row;
  readonly lot: Lot | undefined;
  readonly applied: boolean;
}

interface ScrapPart {
  readonly record: OdooRecord;
  readonly doneAt: unknown;
  readonly applied: boolean;
}

async function post(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  good: number,
  reject: number,
  options: ProductionPostingOptions,
): Promise<ProductionPosting> {
  // Rejects are produced too, then scrapped from the done order: Odoo's way of saying "made 7,
  // 2 of them scrapped", which leaves the 5 good ones in stock.
  const produced = await postGood(ctx, event, good + reject, options);
  let scrap: ScrapPart | undefined;
  if (reject > 0)
    scrap = await postScrap(ctx, event, produced.mo, produced.lot, reject, await markedScrap(ctx, event.id));
  const applied = produced.applied || scrap?.applied === true;
  return result(ctx, event, applied ? "applied" : "already_applied", produced.mo, produced.lot, {
    done: true,
    scrap,
  });
}

async function postGood(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  good: number,
  options: ProductionPostingOptions,
): Promise<GoodPart> {
  const r = event.value;
  const fields = moFields(ctx);

  // 1. Posted already, or half-way? (A backorder inherits the id — Odoo copies custom fields — so a
  //    done order carrying it decides.)
  const marked = await markedRecords(ctx, "mrp.production", event.id, fields);
  const done = marked.find((m) => m["state"] === "done");
  if (done) return { mo: done, lot: await lotOf(ctx, done), applied: false };
  let mo = marked.find((m) => OPEN_STATES.has(String(m["state"])));

  // 2–3. Apply: the open order of the family, its lot, one write.
  let lot: { id: number; name: string } | undefined;
  if (mo) lot = await lotOf(ctx, mo);
  else {
    mo = await openOrder(ctx, r.orderRef as string, fields);
    lot = await lotToProduce(ctx, event, mo);
    const vals: Row = { qty_producing: good, [MARKER]: event.id };
    if (lot) {
      const { field, many } = ctx.fields.moLotProducing;
      vals[field] = many ? [[6, 0, [lot.id]]] : lot.id;
    }
    await ctx.odoo.write("mrp.production", [mo["id"] as number], vals);
  }
  const id = mo["id"] as number;

  // 4. Mark done, answering the wizards.
  const answers: WizardAnswers = {
    "mrp.production.backorder": "action_backorder",
    "mrp.consumption.warning": options.consumptionWarning === "set_qty" ? "action_set_qty" : "action_confirm",
    "mrp.immediate.production": "process",
  };
  try {
    await pressButton(ctx, "mrp.production", "button_mark_done", [id], answers);
  } catch (err) {
    if (isPermanent(err)) await undoWrite(ctx, id, event.id);
    throw err;
  }
  const [after] = await ctx.odoo.read("mrp.production", [id], fields);
  if (after?.["state"] !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `${String(mo["name"])} is ${String(after?.["state"])} after button_mark_done, expected done`,
    );
  return { mo: after as Row, lot, applied: true };
}

// ------------------------------------------------------------------------------------ rejects

const SCRAP_FIELDS = ["name", "state", "date_done", "production_id", "lot_id"];

async function markedScrap(ctx: PostingContext, eventId: string): Promise<Row | undefined> {
  const [scrap] = await markedRecords(ctx, "stock.scrap", eventId, SCRAP_FIELDS);
  return scrap;
}

/**
 * The rejected quantity as ONE scrap of the order's product carrying the event id (created in one
 * call), then validated. Found draft: validated (with the lot written when it lacks one and one is
 * known now); found done: already applied.
 */
async function postScrap(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  mo: Row,
  lot: Lot | undefined,
  quantity: number,
  found: Row | undefined,
): Promise<ScrapPart> {
  let scrap = found;
  if (scrap?.["state"] === "done")
    return { record: scrapRecord(scrap), doneAt: scrap["date_done"], applied: false };
  let id: number;
  if (scrap) {
    id = scrap["id"] as number;
    if (lot && m2oId(scrap["lot_id"]) === false)
      await ctx.odoo.write("stock.scrap", [id], { lot_id: lot.id }, { idempotent: true });
  } else {
    const productId = m2oId(mo["product_id"]);
    if (productId === false)
      throw new PermanentError(
        OutboundErrorCode.UnexpectedState,
        `${String(mo["name"])} has no product: the rejected quantity cannot be scrapped`,
      );
    const vals: Row = {
      product_id: productId,
      scrap_qty: quantity,
      production_id: mo["id"],
      origin: mo["name"],
      [MARKER]: event.id,
    };
    const uom = m2oId(mo["product_uom_id"]);
    if (uom !== false) vals["product_uom_id"] = uom;
    if (lot) vals["lot_id"] = lot.id;
    id = await ctx.odoo.create("stock.scrap", vals);
  }
  // On a real Odoo with short stock, action_validate answers the "insufficient quantity" wizard:
  // the connector does not scrap anyway, it dead-letters (pressButton without an answer).
  await pressButton(ctx, "stock.scrap", "action_validate", [id], {});
  [scrap] = await ctx.odoo.read("stock.scrap", [id], SCRAP_FIELDS);
  if (scrap?.["state"] !== "done")
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `the scrap ${String(scrap?.["name"])} of event ${event.id} is ${String(scrap?.["state"])} after action_validate, expected done`,
    );
  return { record: scrapRecord(scrap), doneAt: scrap["date_done"], applied: true };
}

function scrapRecord(scrap: Row): OdooRecord {
  return {
    model: "stock.scrap",
    id: scrap["id"] as number,
    name: typeof scrap["name"] === "string" ? scrap["name"] : null,
  };
}

function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || (err instanceof OdooError && err.kind === "permanent");
}

/** Takes back the write of step 3 (best effort) so a refused order is not left half-posted. */
async function undoWrite(ctx: PostingContext, id: number, eventId: string): Promise<void> {
  try {
    const [row] = await ctx.odoo.read("mrp.production", [id], ["state", MARKER]);
    if (!row || row["state"] === "done" || row["state"] === "cancel" || row[MARKER] !== eventId) return;
    await ctx.odoo.write("mrp.production", [id], { qty_producing: 0, [MARKER]: false }, { idempotent: true });
  } catch (err) {
    ctx.logger.warn({ err, mrpProductionId: id }, "could not reset the refused production posting");
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The open manufacturing order of `ref`'s family: the order itself or one of its backorders
 * (`<ref>-001` once split, then `-002`, …); when `ref` names a backorder (`…-002`), that one or a
 * later one. The lowest open sequence wins: the family is worked through in order.
 */
async function openOrder(ctx: PostingContext, ref: string, fields: string[]): Promise<Row> {
  const named = /^(.*)-(\d{3})$/.exec(ref);
  const base = named ? (named[1] as string) : ref;
  const minSequence = named ? Number(named[2]) : 0;
  // `=like` patterns may over-match (`_` and `%` in names): the family is filtered exactly below.
  const domain: unknown[] = ["|", ["name", "=", ref], ["name", "=like", `${base}-%`]];
  const rows = await ctx.odoo.searchRead("mrp.production", domain, {
    fields,
    order: "backorder_sequence, id",
  });
  const member = new RegExp(`^${escapeRegExp(base)}-(\\d{3})$`);
  const family = rows.filter((row) => {
    const name = String(row["name"]);
    if (name === ref) return true;
    const m = member.exec(name);
    return m !== null && Number(m[1]) >= minSequence;
  });
  if (family.length === 0)
    throw new PermanentError(
      OutboundErrorCode.OrderNotFound,
      `Odoo has no manufacturing order ${ref} (nor a backorder of it): check the order reference the machine reported`,
    );
  const open = family.find((row) => OPEN_STATES.has(String(row["state"])));
  if (!open)
    throw new PermanentError(
      OutboundErrorCode.OrderNotOpen,
      `no manufacturing order of ${ref} is open for production (${family
        .map((row) => `${String(row["name"])}: ${String(row["state"])}`)
        .join(", ")}): confirm it or open a new one in Odoo, then replay the event`,
    );
  return open;
}

/**
 * The lot to produce for a tracked product: the reported one (created when Odoo does not know it),
 * else the one already on the order. None for an untracked product — and none when neither exists:
 * Odoo then refuses to mark the order done with its own message, which is dead-lettered.
 */
async function lotToProduce(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  mo: Row,
): Promise<{ id: number; name: string } | undefined> {
  const productId = m2oId(mo["product_id"]);
  const product = productId === false ? undefined : await productById(ctx, productId);
  if (!product || product.tracking === "none") return undefined;
  const name = event.value.lot;
  if (name) {
    const { id } = await ensureLot(ctx, name, product.id, event.id);
    return { id, name };
  }
  return lotOf(ctx, mo);
}

/** The produced lot recorded on an order. */
async function lotOf(ctx: PostingContext, mo: Row): Promise<{ id: number; name: string } | undefined> {
  const value = mo[ctx.fields.moLotProducing.field];
  const [id] = idsOf(value);
  if (id === undefined) return undefined;
  const name = m2oName(value);
  if (name !== null) return { id, name };
  const [row] = await ctx.odoo.read(ctx.fields.lotModel, [id], ["name"]);
  return { id, name: String(row?.["name"] ?? "") };
}

async function result(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  outcome: "applied" | "already_applied",
  mo: Row,
  lot: Lot | undefined,
  parts: { done: boolean; scrap: ScrapPart | undefined },
): Promise<ProductionPosting> {
  const r = event.value;
  const id = mo["id"] as number;
  const records: OdooRecord[] = [{ model: "mrp.production", id, name: String(mo["name"]) }];
  if (lot) records.push({ model: ctx.fields.lotModel, id: lot.id, name: lot.name });
  // The open backorder that took the rest (only when this report marked an order done).
  const backorder = parts.done ? await nextInFamily(ctx, mo) : undefined;
  if (backorder) records.push(backorder);
  if (parts.scrap) records.push(parts.scrap.record);
  const posted: ProductionPosted = {
    sourceEventId: event.id,
    orderRef: r.orderRef as string,
    odooOrderId: BigInt(id),
    lot: lot?.name ?? null,
    postedGoodQuantity: r.goodQuantity,
    postedRejectQuantity: parts.scrap ? r.rejectQuantity : { value: "0", uom: r.rejectQuantity.uom },
    odooRecords: records.map((rec) => ({ model: rec.model, id: BigInt(rec.id), name: rec.name })),
    postedAt: fromOdooDatetime(parts.done ? mo["date_finished"] : parts.scrap?.doneAt) ?? new Date(),
  };
  return { outcome, records, posted };
}

/** The open backorder that follows a done order, when there is one. */
async function nextInFamily(ctx: PostingContext, mo: Row): Promise<OdooRecord | undefined> {
  const sequence = Number(mo["backorder_sequence"] ?? 0);
  if (!sequence) return undefined;
  const base = String(mo["name"]).replace(/-\d{3}$/, "");
  const [next] = await ctx.odoo.searchRead(
    "mrp.production",
    [
      ["name", "=like", `${base}-%`],
      ["backorder_sequence", ">", sequence],
      ["state", "not in", ["done", "cancel"]],
    ],
    { fields: ["name"], order: "backorder_sequence, id", limit: 1 },
  );
  return next ? { model: "mrp.production", id: next["id"] as number, name: String(next["name"]) } : undefined;
}
