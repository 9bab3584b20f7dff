/**
 * Quality holds → Odoo (quality_control): a hold placed raises a quality alert on the lot and moves
 * the lot from stock to the quarantine location with an internal transfer; a hold released moves it
 * back and puts the alert in a done stage (a hold REJECTED keeps the lot in quarantine: scrap, rework
 * or return is decided in Odoo). The alert's title names the hold (`Quality hold <holdId>`), the
 * transfers' source document too, so the release finds what the placement made.
 *
 * Every record carries the id of the event that made it, and each step is resumable: a redelivered
 * event finds its alert and its transfer and carries on from the transfer's state.
 */
import type { QualityHoldPlaced, QualityHoldReleased } from "../../../../contracts/src/index.js";
import { PermanentError, RetryableError } from "../../../../streams/src/index.js";
import { OutboundErrorCode } from "./errors.js";
import {
  ensureTransfer,
  findLot,
  findProduct,
  MARKER,
  m2oId,
  markedRecords,
  type OdooRecord,
  odooDatetime,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  type ProductInfo,
  quantityOf,
} from "./steps.js";

export interface QualityPostingOptions {
  /** Full name of the location lots on hold are moved to. @default "WH/Quarantine" */
  quarantineLocation?: string;
  /** Full name of the location they come from and go back to. @default "WH/Stock" */
  stockLocation?: string;
}

export const QUALITY_DEFAULTS = { quarantineLocation: "WH/Quarantine", stockLocation: "WH/Stock" } as const;

export function holdTitle(holdId: string): string {
  return `Quality hold ${holdId}`;
}

export async function postQualityHoldPlaced(
  ctx: PostingContext,
  event: PostingEvent<QualityHoldPlaced>,
  options: QualityPostingOptions = {},
): Promise<PostingResult> {
  const h = event.value;
  const { product, lotId } = await productAndLot(ctx, h, true);
  const records: OdooRecord[] = [];
  let changed = false;

  const [alert] = await markedRecords(ctx, "quality.alert", event.id, ["name"]);
  if (alert) records.push({ model: "quality.alert", id: alert["id"] as number, name: String(alert["name"]) });
  else {
    const id = await ctx.odoo.create("quality.alert", {
      title: holdTitle(h.holdId),
      description: describe(h.reason, [
        `Placed by ${h.placedBy} at ${odooDatetime(h.placedAt)} UTC`,
        h.triggeredBy ? `triggered by event ${h.triggeredBy}` : "",
      ]),
      product_id: product.id,
      ...(product.templateId ? { product_tmpl_id: product.templateId } : {}),
      lot_id: lotId,
      priority: "2",
      [MARKER]: event.id,
    });
    records.push({ model: "quality.alert", id, name: null });
    changed = true;
  }

  const quantity = h.quantity ? quantityOf(h.quantity.value) : await lotOnHand(ctx, lotId);
  if (quantity > 0) {
    const transfer = await ensureTransfer(ctx, {
      eventId: event.id,
      origin: holdTitle(h.holdId),
      product,
      lotId,
      quantity,
      from: await ctx.setup.location(options.stockLocation ?? QUALITY_DEFAULTS.stockLocation),
      to: await ctx.setup.location(options.quarantineLocation ?? QUALITY_DEFAULTS.quarantineLocation),
    });
    records.push(transfer.record);
    changed ||= transfer.changed;
  } else
    ctx.logger.info({ lot: h.lot, holdId: h.holdId }, "lot on hold has nothing on hand: no quarantine move");
  return { outcome: changed ? "applied" : "already_applied", records };
}

export async function postQualityHoldReleased(
  ctx: PostingContext,
  event: PostingEvent<QualityHoldReleased>,
  options: QualityPostingOptions = {},
): Promise<PostingResult> {
  const h = event.value;
  const { product, lotId } = await productAndLot(ctx, h, false);
  const title = holdTitle(h.holdId);
  const records: OdooRecord[] = [];
  let changed = false;
  const doneStage = await ctx.setup.doneAlertStage();

  if (h.status === "RELEASED") {
    const quarantine = await ctx.setup.location(
      options.quarantineLocation ?? QUALITY_DEFAULTS.quarantineLocation,
    );
    const stock = await ctx.setup.location(options.stockLocation ?? QUALITY_DEFAULTS.stockLocation);
    const [placed] = await ctx.odoo.searchRead(
      "stock.picking",
      [
        ["origin", "=", title],
        ["location_dest_id", "=", quarantine],
        ["state", "!=", "cancel"],
      ],
      { fields: ["name", "state"], order: "id asc", limit: 1 },
    );
    if (placed && placed["state"] !== "done")
      throw new RetryableError(
        OutboundErrorCode.UnexpectedState,
        `the quarantine transfer ${String(placed["name"])} of hold ${h.holdId} is not done yet`,
      );
    const quantity = placed ? await movedQuantity(ctx, placed["id"] as number) : 0;
    if (quantity > 0) {
      const back = await ensureTransfer(ctx, {
        eventId: event.id,
        origin: title,
        product,
        lotId,
        quantity,
        from: quarantine,
        to: stock,
      });
      records.push(back.record);
      changed ||= back.changed;
    }
  }

  const [alert] = await ctx.odoo.searchRead("quality.alert", [["title", "=", title]], {
    fields: ["name", "stage_id"],
    order: "id asc",
    limit: 1,
  });
  if (!alert) {
    // The placement was never posted: the alert is recorded, closed.
    const [made] = await markedRecords(ctx, "quality.alert", event.id, ["name"]);
    let id = made?.["id"] as number | undefined;
    if (id === undefined) {
      id = await ctx.odoo.create("quality.alert", {
        title,
        description: describe(h.reason, [
          `${h.status} by ${h.releasedBy} at ${odooDatetime(h.releasedAt)} UTC`,
        ]),
        product_id: product.id,
        ...(product.templateId ? { product_tmpl_id: product.templateId } : {}),
        lot_id: lotId,
        stage_id: doneStage,
        [MARKER]: event.id,
      });
      changed = true;
    }
    records.push({ model: "quality.alert", id, name: null });
    return { outcome: changed ? "applied" : "already_applied", records };
  }
  records.push({ model: "quality.alert", id: alert["id"] as number, name: String(alert["name"]) });
  if (m2oId(alert["stage_id"]) !== doneStage) {
    // By value: the alert keeps the placement's event id (its idempotency key).
    await ctx.odoo.write(
      "quality.alert",
      [alert["id"] as number],
      { stage_id: doneStage },
      { idempotent: true },
    );
    changed = true;
  }
  return { outcome: changed ? "applied" : "already_applied", records };
}

async function productAndLot(
  ctx: PostingContext,
  h: QualityHoldPlaced | QualityHoldReleased,
  placing: boolean,
): Promise<{ product: ProductInfo; lotId: number }> {
  const product = await findProduct(ctx, h.product);
  if (!product)
    throw new PermanentError(
      OutboundErrorCode.ProductNotFound,
      `Odoo has no product ${h.product.code}${h.product.odooId !== null ? ` (id ${h.product.odooId})` : ""}`,
    );
  const lotId = await findLot(ctx, h.lot, product.id);
  if (lotId === undefined) {
    const message = `Odoo has no lot ${h.lot} of ${h.product.code}`;
    // The production posting that creates it may still be on its way: try again later (bounded by
    // the durable's maxDeliver). A release of a lot Odoo never had is dead-lettered at once.
    if (placing) throw new RetryableError(OutboundErrorCode.LotNotFound, `${message} (yet)`);
    throw new PermanentError(OutboundErrorCode.LotNotFound, message);
  }
  return { product, lotId };
}

async function lotOnHand(ctx: PostingContext, lotId: number): Promise<number> {
  const [row] = await ctx.odoo.read(ctx.fields.lotModel, [lotId], ["product_qty"]);
  const qty = Number(row?.["product_qty"] ?? 0);
  return Number.isFinite(qty) ? qty : 0;
}

async function movedQuantity(ctx: PostingContext, pickingId: number): Promise<number> {
  const moves = await ctx.odoo.searchRead("stock.move", [["picking_id", "=", pickingId]], {
    fields: [ctx.fields.moveQty],
  });
  return moves.reduce((sum, m) => sum + Number(m[ctx.fields.moveQty] ?? 0), 0);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function describe(reason: string, notes: string[]): string {
  return [reason, ...notes]
    .filter((line) => line !== "")
    .map((line) => `<p>${escapeHtml(line)}</p>`)
    .join("");
}
