/**
 * Shipment gate decisions → Odoo. A blocked delivery gets a quality check "to do" per lot on hold:
 * Odoo's quality_control then refuses to validate the picking until the checks are done
 * (`_pre_action_done_hook` opens the quality check wizard; `_action_done` raises "You still need to
 * do the quality checks!") — the people in the warehouse see why, on the picking. A cleared delivery
 * passes the checks the connector made (`do_pass`); checks made by people are left alone.
 *
 * The checks are created in one call carrying the event id; a redelivered ShipmentBlocked finds them.
 * Passing a passed check changes nothing, so ShipmentCleared needs no key of its own.
 */
import type { ShipmentBlocked, ShipmentCleared } from "../../../../contracts/src/index.js";
import { PermanentError } from "../../../../streams/src/index.js";
import { OdooError } from "../odoo/index.js";
import { OutboundErrorCode } from "./errors.js";
import {
  findLot,
  findProduct,
  idsOf,
  MARKER,
  markedRecords,
  type OdooRecord,
  type PostingContext,
  type PostingEvent,
  type PostingResult,
  type Row,
} from "./steps.js";

const CHECK = "quality.check";

export async function postShipmentBlocked(
  ctx: PostingContext,
  event: PostingEvent<ShipmentBlocked>,
): Promise<PostingResult> {
  const s = event.value;
  const existing = await markedRecords(ctx, CHECK, event.id, ["name"]);
  if (existing.length > 0) return { outcome: "already_applied", records: existing.map(checkRecord) };
  const picking = await readPicking(ctx, s.odooPickingId, s.pickingRef);
  if (picking["state"] === "done" || picking["state"] === "cancel")
    return {
      outcome: "skipped",
      reason: `the picking ${s.pickingRef} is already ${String(picking["state"])}`,
      records: [],
    };
  const moves = await ctx.odoo.searchRead("stock.move", [["picking_id", "=", picking["id"]]], {
    fields: ["product_id"],
  });
  const shipped = moves.flatMap((m) => idsOf(m["product_id"]));
  const [firstProduct] = shipped;
  if (firstProduct === undefined)
    return { outcome: "skipped", reason: `the picking ${s.pickingRef} has nothing to ship`, records: [] };

  const vals: Row[] = [];
  for (const blocked of s.blockedLots) {
    const product = await findProduct(ctx, blocked.product);
    // A check blocks validation for a product being shipped: the lot's own, else the picking's.
    const productId = product && shipped.includes(product.id) ? product.id : firstProduct;
    const lotId = await findLot(ctx, blocked.lot, productId);
    const why = blocked.reason ? `: ${blocked.reason}` : "";
    vals.push({
      picking_id: picking["id"],
      product_id: productId,
      ...(lotId !== undefined ? { lot_id: lotId } : {}),
      title: `Lot ${blocked.lot} is on quality hold${why}`,
      note: `<p>Do not ship lot ${escapeHtml(blocked.lot)} (holds ${escapeHtml(blocked.holdIds.join(", "))})${escapeHtml(why)}. The shipment gate passes this check when the hold is released.</p>`,
      [MARKER]: event.id,
    });
  }
  const ids = await ctx.odoo.create(CHECK, vals);
  return { outcome: "applied", records: ids.map((id) => ({ model: CHECK, id, name: null })) };
}

export async function postShipmentCleared(
  ctx: PostingContext,
  event: PostingEvent<ShipmentCleared>,
): Promise<PostingResult> {
  const s = event.value;
  const picking = await readPicking(ctx, s.odooPickingId, s.pickingRef);
  const pending = await ctx.odoo.searchRead(
    CHECK,
    [
      ["picking_id", "=", picking["id"]],
      ["quality_state", "=", "none"],
      [MARKER, "!=", false],
    ],
    { fields: ["name"] },
  );
  if (pending.length === 0) return { outcome: "already_applied", records: [] };
  await ctx.odoo.call(CHECK, "do_pass", { ids: pending.map((c) => c["id"] as number) }, { idempotent: true });
  return { outcome: "applied", records: pending.map(checkRecord) };
}

function checkRecord(row: Row): OdooRecord {
  return {
    model: CHECK,
    id: row["id"] as number,
    name: typeof row["name"] === "string" ? row["name"] : null,
  };
}

async function readPicking(ctx: PostingContext, odooId: bigint, ref: string): Promise<Row> {
  let row: Row | undefined;
  try {
    [row] = await ctx.odoo.read("stock.picking", [Number(odooId)], ["name", "state"]);
  } catch (err) {
    if (!(err instanceof OdooError && err.odooName === "odoo.exceptions.MissingError")) throw err;
  }
  if (!row)
    throw new PermanentError(
      OutboundErrorCode.PickingNotFound,
      `Odoo has no picking ${ref} (stock.picking ${odooId}): it was deleted, or the event is from another database`,
    );
  return row;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
