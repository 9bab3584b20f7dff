/**
 * ProductionReported → Odoo, the way Odoo's own manufacturing records progress: counts accumulate on
 * the one open order of the family for the report's line; nothing is closed here (close.ts does
 * that, when a run ends and the close policy says so).
 *
 * - **The counting point** (the line's last machine, `countingPoint: true`) posts finished output:
 *   `qty_producing` grows by good + rejected (rejects are produced, then scrapped at the close, as
 *   Odoo shows "produced 9, scrapped 2"). Components follow as the form's onchange fills them: the
 *   write goes to the machine's work order, whose `qty_producing` inverse sets the order's and runs
 *   Odoo's `_set_qty_producing` in the same transaction (mrp_workorder.py, 16–19); an order without
 *   that work order is written directly, then `set_qty_producing()` (17+) — on 16, which has no
 *   public filler, the component quantities go in the same write, computed as `_set_qty_producing`
 *   does. An operator's quantity is added to, never overwritten.
 * - **Every machine** logs its real running time (the report's EXECUTE stretches) as productive time
 *   on its own work centre's work order — so Odoo never fills in the expected duration for it.
 * - **Upstream rejects** naming a component are a scrap of that component from the order.
 *
 * Exactly once: the posting record (postings.ts) is created by the same write as the quantity and
 * the time logs, marked `pending` while the steps that follow (components consumed at the machine's
 * operation, reserved lots kept) are not done, and completed after them. A redelivered event finds
 * it and finishes a pending one, each step checked on its own; reconciliation names a pending record
 * of a posted event (an Odoo restored from a backup taken between the steps) so it is replayed.
 */
import type { ProductionPosted, ProductionReported, Quantity } from "../../../../../contracts/src/index.js";
import { PermanentError } from "../../../../../streams/src/index.js";
import { referenceOf } from "../../reference/index.js";
import { OutboundErrorCode } from "../errors.js";
import {
  ensureLot,
  idsOf,
  KeyedLock,
  MARKER,
  m2oId,
  m2oName,
  markedRecords,
  type OdooRecord,
  odooDatetime,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  productById,
  quantityOf,
  type Row,
} from "../steps.js";
import { componentCommands16, consumeAtOperation, fillComponents, keepReservedLots } from "./components.js";
import {
  type FamilyMember,
  lastDoneMemberFor,
  OPEN_STATES,
  openMemberFor,
  orderFamily,
  workOrderAt,
} from "./family.js";
import {
  completePosting,
  findPosting,
  type PostingRecord,
  postingCommand,
  startOverIfVanished,
} from "./postings.js";
import { addToOdoo, inUnit, odooNumber } from "./quantities.js";
import { validateScrap } from "./scrap.js";
import { postSerialUnits } from "./serial.js";

export interface ProductionPosting extends PostingResult {
  /** The ProductionPosted payload to publish (applied or already applied). */
  readonly posted?: ProductionPosted;
  /** The counting point brought the order to its planned quantity (for CLOSE_AT_PLANNED_QUANTITY). */
  readonly plannedReached?: { readonly productionId: number; readonly name: string };
}

const REPORTED = "mfg.production.production_reported.v1";

/**
 * Postings of one order family never run at once (they read and add to the same quantity): the
 * consumer orders them by order; this lock holds even when the order could not be read early.
 */
export const familyLocks = new KeyedLock();

/** The family key of an order reference: backorder suffixes belong to their original. */
export function familyKey(orderRef: string): string {
  return orderRef.replace(/-\d{3}$/, "");
}

export async function postProductionReported(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
): Promise<ProductionPosting> {
  const r = event.value;
  if (r.orderRef === null)
    return { outcome: "skipped", reason: "no production order was active", records: [] };
  // In the machine's unit: enough to know whether there is anything for Odoo (converted below).
  const good = quantityOf(r.goodQuantity.value);
  const reject = quantityOf(r.rejectQuantity.value);
  const running = r.running.filter((p) => p.endedAt > p.startedAt);
  const counted = r.countingPoint && good + reject > 0;
  const componentScrap = !r.countingPoint && r.rejectedComponent !== null && reject > 0;
  if (!counted && running.length === 0 && !componentScrap)
    return {
      outcome: "skipped",
      reason: "nothing for Odoo: no output, running time or component scrap",
      records: [],
    };
  return familyLocks.run(familyKey(r.orderRef), () =>
    startOverIfVanished(async () => {
      const family = await orderFamily(ctx, r.orderRef as string, ctx.equipment);
      const found = await findPosting(ctx, event.id);
      let member: FamilyMember;
      let units: OdooRecord[] = [];
      let quantities: OrderQuantities;
      if (found) {
        const byId = family.members.find((m) => m.id === found.productionId);
        if (!byId)
          throw new PermanentError(
            OutboundErrorCode.UnexpectedState,
            `event ${event.id} is recorded on manufacturing order ${String(found.productionId)}, which is not in ${r.orderRef}'s family any more`,
          );
        member = byId;
        quantities = await orderQuantities(ctx, member, r);
        const produced = quantities.produced;
        // Its later steps are done unless the record says otherwise (a crash between them, or an Odoo
        // restored from a backup taken between them): then they are finished now.
        if (found.pending && OPEN_STATES.has(member.state)) {
          if (produced > 0 && found.workorderId === false) await fillComponents(ctx, member);
          await consumeAtOperation(ctx, member, r);
          if (produced > 0) await keepReservedLots(ctx, member);
        }
        await completePosting(ctx, found);
      } else {
        member = memberFor(family, r, counted || componentScrap);
        quantities = await orderQuantities(ctx, member, r);
        const { produced } = quantities;
        const good = odooNumber(quantities.good);
        const reject = odooNumber(quantities.reject);
        if (produced > 0 && (await trackingOf(ctx, member)) === "serial") {
          // Each unit on its own order with its own serial; then the event's own record (its time,
          // and the proof that every unit is done) on the order that is open after them.
          units = await postSerialUnits(ctx, event, { good, reject });
          member = memberFor(await orderFamily(ctx, r.orderRef as string, ctx.equipment), r, false);
          await apply(ctx, event, member, { produced: 0, good, reject, running, serialUnits: good + reject });
        } else {
          const later = OPEN_STATES.has(member.state);
          await apply(ctx, event, member, { produced, good, reject, running, pending: later });
          if (later) {
            await consumeAtOperation(ctx, member, r);
            if (produced > 0) await keepReservedLots(ctx, member);
            const record = await findPosting(ctx, event.id);
            if (record) await completePosting(ctx, record);
          }
        }
      }
      const records: OdooRecord[] = [...units, { model: "mrp.production", id: member.id, name: member.name }];
      if (componentScrap) records.push(await postComponentScrap(ctx, event, member));
      const after = await readOrder(ctx, member.id);
      return {
        outcome: found ? "already_applied" : "applied",
        records,
        posted: posted(event, member, after, quantities, componentScrap),
        ...(quantities.produced > 0 && plannedReached(after)
          ? { plannedReached: { productionId: member.id, name: member.name } }
          : {}),
      };
    }),
  );
}

/** Counts and scrap go to the open member; time alone may land on the last done one (a late report). */
function memberFor(
  family: Awaited<ReturnType<typeof orderFamily>>,
  r: ProductionReported,
  needsOpen: boolean,
): FamilyMember {
  try {
    return openMemberFor(family, r.equipment.line);
  } catch (err) {
    const done = needsOpen ? undefined : lastDoneMemberFor(family, r.equipment.line);
    if (done) return done;
    throw err;
  }
}

/**
 * The counting point's good and rejects in the order's unit (quantities.ts), and what they add to its
 * `qty_producing`. Other machines' counts are not the order's output: they stay in the machine's unit
 * (their record says what the machine counted; a component scrap converts on its own).
 */
interface OrderQuantities {
  readonly good: Quantity;
  readonly reject: Quantity;
  /** Good + rejected in the order's unit for the counting point, else 0. */
  readonly produced: number;
}

async function orderQuantities(
  ctx: PostingContext,
  member: FamilyMember,
  r: ProductionReported,
): Promise<OrderQuantities> {
  if (!r.countingPoint) return { good: r.goodQuantity, reject: r.rejectQuantity, produced: 0 };
  const unit = member.row["product_uom_id"];
  const good = await inUnit(ctx, r.goodQuantity, unit);
  const reject = await inUnit(ctx, r.rejectQuantity, unit);
  return { good, reject, produced: addToOdoo(odooNumber(good), odooNumber(reject)) };
}

interface Amounts {
  readonly produced: number;
  readonly good: number;
  readonly reject: number;
  readonly running: readonly { startedAt: Date; endedAt: Date }[];
  /** The units were posted one per serial (serial.ts): this record carries the totals, not a quantity. */
  readonly serialUnits?: number;
  /** Later steps follow the write: the record says so until they are done (completePosting). */
  readonly pending?: boolean;
}

async function trackingOf(ctx: PostingContext, member: FamilyMember): Promise<string> {
  const productId = m2oId(member.row["product_id"]);
  return productId === false ? "none" : ((await productById(ctx, productId))?.tracking ?? "none");
}

/** The one write of the report: quantity, time logs and the posting record together. */
async function apply(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  member: FamilyMember,
  amounts: Amounts,
): Promise<void> {
  const r = event.value;
  const line = r.equipment.line ?? "";
  const machine = r.equipment.machine;
  const code = ctx.equipment.workcenterOf(line, machine);
  const wo = workOrderAt(member, code);
  const runningMinutes =
    amounts.running.reduce((s, p) => s + (p.endedAt.getTime() - p.startedAt.getTime()), 0) / 60_000;
  const record = postingCommand({
    eventId: event.id,
    kind: "report",
    eventType: REPORTED,
    productionId: member.id,
    machine: `${line}/${machine ?? ""}`,
    countingPoint: r.countingPoint,
    good: amounts.good,
    reject: amounts.reject,
    runningMinutes,
    at: r.reportedAt,
    ...(amounts.serialUnits !== undefined || amounts.pending
      ? {
          details: {
            ...(amounts.serialUnits !== undefined ? { serialUnits: amounts.serialUnits } : {}),
            ...(amounts.pending ? { pending: true } : {}),
          },
        }
      : {}),
  });
  if (amounts.produced > 0) {
    if (!OPEN_STATES.has(member.state))
      throw new PermanentError(
        OutboundErrorCode.OrderNotOpen,
        `${member.name} is ${member.state}: no output can be posted to it`,
      );
    await ensureProducedLot(ctx, event, member);
  }
  const timeLogs = await timeLogCommands(
    ctx,
    amounts.running,
    wo?.workcenterId ?? code,
    `${line}/${machine ?? ""}`,
    member,
    wo?.id ?? null,
  );
  // Odoo takes the quantity and a time log's end, not increments: the quantity is read just before
  // the write, and a write that failed goes back to the consumer (which reads both again) rather than
  // the client sending it later — after an outage, or an Odoo restored meanwhile, it would write over
  // what changed (a restored log's end moved past a lost report's stretch counts that stretch twice).
  const newQty = amounts.produced > 0 ? addToOdoo(await producingNow(ctx, member.id), amounts.produced) : 0;
  const options = { retry: false };
  if (wo) {
    const vals: Row = { [POSTINGS]: [record] };
    if (amounts.produced > 0) vals["qty_producing"] = newQty;
    if (timeLogs.length > 0) vals["time_ids"] = timeLogs;
    await ctx.odoo.write("mrp.workorder", [wo.id], vals, options);
    return;
  }
  const vals: Row = { [POSTINGS]: [record] };
  if (amounts.produced > 0) {
    vals["qty_producing"] = newQty;
    if (!ctx.fields.hasSetQtyProducing) vals["move_raw_ids"] = await componentCommands16(ctx, member, newQty);
  }
  await ctx.odoo.write("mrp.production", [member.id], vals, options);
  if (amounts.produced > 0) await fillComponents(ctx, member);
  // No work order of this machine's work centre on the order: the time goes to the work centre alone.
  if (timeLogs.length > 0) await logTimeWithoutWorkOrder(ctx, event.id, timeLogs);
}

const POSTINGS = "x_threadline_posting_ids";

/**
 * The order's quantity in production now. The family was read earlier in the posting (several
 * calls ago); an operator's change or an Odoo restored since then must not be written over.
 */
async function producingNow(ctx: PostingContext, productionId: number): Promise<number> {
  const [row] = await ctx.odoo.read("mrp.production", [productionId], ["qty_producing"]);
  if (!row)
    throw new PermanentError(
      OutboundErrorCode.UnexpectedState,
      `manufacturing order ${productionId} vanished while a report was being posted to it`,
    );
  return Number(row["qty_producing"] ?? 0);
}

/**
 * The report's running stretches as productive time logs of the machine's work centre: one log per
 * stretch of running, as Odoo's own timer keeps one per start and stop, each report extending the
 * log its stretch continues (its end moves on). Odoo rounds each log's minutes to 0.01
 * (`_convert_to_duration`): a log per 2-s report would lose a tenth of the time. A stretch that
 * continues no log (the first, after a stop, a replay out of order) starts one.
 */
async function timeLogCommands(
  ctx: PostingContext,
  running: Amounts["running"],
  workcenter: number | string,
  machine: string,
  member: FamilyMember,
  workorderId: number | null,
): Promise<unknown[]> {
  if (running.length === 0) return [];
  let workcenterId: number;
  try {
    workcenterId = typeof workcenter === "number" ? workcenter : await ctx.setup.workcenter(workcenter);
  } catch (err) {
    // Counts must not wait for a work centre mapping: the time is left out, and said so.
    ctx.logger.warn({ err, machine, order: member.name }, "running time not logged in Odoo: no work centre");
    return [];
  }
  const loss = await ctx.setup.productiveLoss();
  const description = `Threadline: ${machine} running`;
  const commands: unknown[] = [];
  for (const [i, p] of running.entries()) {
    const [continued] =
      i === 0 && workorderId !== null
        ? await ctx.odoo.searchRead(
            "mrp.workcenter.productivity",
            [
              ["workorder_id", "=", workorderId],
              ["description", "=", description],
              ["date_end", "=", odooDatetime(p.startedAt)],
            ],
            { fields: ["id"], limit: 1, order: "id desc" },
          )
        : [];
    if (continued) commands.push([1, continued["id"], { date_end: odooDatetime(p.endedAt) }]);
    else
      commands.push([
        0,
        0,
        {
          workcenter_id: workcenterId,
          loss_id: loss,
          date_start: odooDatetime(p.startedAt),
          date_end: odooDatetime(p.endedAt),
          description,
        },
      ]);
  }
  return commands;
}

/** Time logs of a work centre alone (no work order of it on the order), marked with the event id. */
async function logTimeWithoutWorkOrder(
  ctx: PostingContext,
  eventId: string,
  commands: unknown[],
): Promise<void> {
  const marker = `${eventId}:time`;
  const existing = await markedRecords(ctx, "mrp.workcenter.productivity", marker, ["id"]);
  if (existing.length > 0) return;
  const vals = commands.map((c) => ({ ...(c as [0, 0, Row])[2], [MARKER]: marker }));
  await ctx.odoo.create("mrp.workcenter.productivity", vals);
}

/**
 * The lot being produced, for a lot-tracked product: the report's (created when Odoo lacks it),
 * else the one on the order, else a new one Odoo numbers (`action_generate_serial`, as the form's
 * button). A report of another lot than the one the order already produced is refused: the run
 * should have ended (ProductionRunEnded LOT_CHANGE) and the order been closed first.
 */
async function ensureProducedLot(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  member: FamilyMember,
): Promise<void> {
  const productId = m2oId(member.row["product_id"]);
  const product = productId === false ? undefined : await productById(ctx, productId);
  if (!product || product.tracking === "none") return;
  if (product.tracking === "serial")
    throw new PermanentError(
      OutboundErrorCode.SerialTracked,
      `${member.name} makes ${product.name ?? "a product"} tracked by serial number: post serial units with the serial flow (one unit per serial)`,
    );
  const { field, many } = ctx.fields.moLotProducing;
  const [current] = idsOf(member.row[field]);
  const wanted = event.value.lot;
  if (wanted === null) {
    if (current === undefined)
      await ctx.odoo.call("mrp.production", "action_generate_serial", { ids: [member.id] });
    return;
  }
  const { id } = await ensureLot(ctx, wanted, product.id, event.id);
  if (current === id) return;
  if (current !== undefined && Number(member.row["qty_producing"] ?? 0) > 0)
    throw new PermanentError(
      OutboundErrorCode.LotMismatch,
      `${member.name} already produced ${Number(member.row["qty_producing"])} of lot ${m2oName(member.row[field]) ?? current}; the report is for lot ${wanted}: close the order (threadline odoo close) before another lot is counted on it`,
    );
  await ctx.odoo.write(
    "mrp.production",
    [member.id],
    { [field]: many ? [[6, 0, [id]]] : id },
    { idempotent: true },
  );
}

// ------------------------------------------------------------------------------------ component scrap

const SCRAP_FIELDS = ["name", "state", "product_id", "scrap_qty"];

/**
 * An upstream machine's rejects as ONE scrap of the component it handles, from the order
 * (`production_id`: Odoo links the move as a component move, mrp stock_scrap.py
 * `_prepare_move_values`), taken from the order's components location, with the component lot the
 * order reserved when the component is tracked. Odoo answering with its "insufficient quantity"
 * wizard is dead-lettered: Threadline does not force stock below zero.
 */
async function postComponentScrap(
  ctx: PostingContext,
  event: PostingEvent<ProductionReported>,
  member: FamilyMember,
): Promise<OdooRecord> {
  const marker = `${event.id}:scrap`;
  const code = event.value.rejectedComponent as string;
  let quantity = event.value.rejectQuantity;
  let [scrap] = await markedRecords(ctx, "stock.scrap", marker, SCRAP_FIELDS);
  if (!scrap) {
    const product = await referenceOf(ctx).productByCode(code);
    if (!product)
      throw new PermanentError(
        OutboundErrorCode.ProductNotFound,
        `Odoo has no product with internal reference ${code}, which the bridge names as the component ${event.value.equipment.machine} rejects`,
      );
    // The machine's rejects in the component's own unit (its scrap is counted in it).
    quantity = await inUnit(ctx, quantity, product.uomId);
    const vals: Row = {
      product_id: product.id,
      scrap_qty: odooNumber(quantity),
      production_id: member.id,
      location_id: m2oId(member.row["location_src_id"]),
      origin: member.name,
      [MARKER]: marker,
    };
    if (product.uomId !== false) vals["product_uom_id"] = product.uomId;
    if (product.tracking !== "none") {
      const lot = await reservedLot(ctx, member.id, product.id);
      if (lot !== undefined) vals["lot_id"] = lot;
    }
    const id = await ctx.odoo.create("stock.scrap", vals);
    [scrap] = await ctx.odoo.read("stock.scrap", [id], SCRAP_FIELDS);
  }
  const id = (scrap as Row)["id"] as number;
  if ((scrap as Row)["state"] !== "done") {
    await validateScrap(
      ctx,
      id,
      `${Number(quantity.value)} ${quantity.uom} of ${code} rejected by ${event.value.equipment.machine} on ${member.name}`,
    );
  }
  return { model: "stock.scrap", id, name: typeof scrap?.["name"] === "string" ? scrap["name"] : null };
}

/** The lot of `productId` the order's component moves reserved or used, if any. */
async function reservedLot(
  ctx: PostingContext,
  productionId: number,
  productId: number,
): Promise<number | undefined> {
  const [line] = await ctx.odoo.searchRead(
    "stock.move.line",
    [
      ["move_id.raw_material_production_id", "=", productionId],
      ["product_id", "=", productId],
      ["lot_id", "!=", false],
    ],
    { fields: ["lot_id"], limit: 1, order: "id" },
  );
  const lot = line ? m2oId(line["lot_id"]) : false;
  return lot === false ? undefined : lot;
}

// ------------------------------------------------------------------------------------ result

async function readOrder(ctx: PostingContext, id: number): Promise<Row> {
  const [row] = await ctx.odoo.read(
    "mrp.production",
    [id],
    ["name", "state", "product_qty", "qty_producing", ctx.fields.moLotProducing.field],
  );
  if (!row) throw new Error(`mrp.production ${id} vanished`);
  return row;
}

function plannedReached(order: Row): boolean {
  return (
    OPEN_STATES.has(String(order["state"])) && Number(order["qty_producing"]) >= Number(order["product_qty"])
  );
}

/** Posted quantities: the counting point's in the order's unit, as Odoo holds them. */
function posted(
  event: PostingEvent<ProductionReported>,
  member: FamilyMember,
  order: Row,
  q: OrderQuantities,
  componentScrap: boolean,
): ProductionPosted {
  const r = event.value;
  const zero = (uom: string) => ({ value: "0", uom });
  return {
    sourceEventId: event.id,
    orderRef: r.orderRef as string,
    odooOrderId: BigInt(member.id),
    lot: m2oName(order["lot_producing_id"]) ?? r.lot,
    postedGoodQuantity: r.countingPoint ? q.good : zero(r.goodQuantity.uom),
    postedRejectQuantity: r.countingPoint || componentScrap ? q.reject : zero(r.rejectQuantity.uom),
    odooRecords: [{ model: "mrp.production", id: BigInt(member.id), name: member.name }],
    postedAt: new Date(),
  };
}

export type { PostingRecord };
