/**
 * An order's family in Odoo — the order as released, its backorders and the orders Odoo's Split
 * made of it — and which member takes the counts of a line.
 *
 * The family is found by Odoo's own link, not by name alone: backorders and splits share the
 * original's procurement group (16–18) or production group (19) (mrp_production.py
 * `_get_backorder_mo_vals`, `_split_productions`). Names only find the first members (the
 * original is renamed `<ref>-001` at its first split). Each member's line comes from the work
 * centres of its work orders (EquipmentMap), so an order split across two lines routes each line's
 * counts to its own half; a member without work orders takes any line's.
 */
import { PermanentError } from "../../../../../streams/src/index.js";
import type { EquipmentMap } from "../../equipment.js";
import { OutboundErrorCode } from "../errors.js";
import { m2oId, type PostingContext, type Row } from "../steps.js";

export const OPEN_STATES: ReadonlySet<string> = new Set(["confirmed", "progress", "to_close"]);

export interface WorkOrder {
  readonly id: number;
  readonly productionId: number;
  readonly workcenterId: number;
  readonly workcenterCode: string | null;
  readonly state: string;
}

export interface FamilyMember {
  readonly row: Row;
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly workorders: readonly WorkOrder[];
  /** Lines of its work orders' work centres; empty when it has none or the map names none. */
  readonly lines: ReadonlySet<string>;
}

export interface Family {
  readonly ref: string;
  readonly members: readonly FamilyMember[];
}

/** Fields of mrp.production every production posting reads. */
export function orderFields(ctx: PostingContext): string[] {
  return [
    "name",
    "state",
    "product_id",
    "product_qty",
    "qty_producing",
    "qty_produced",
    "product_uom_id",
    "backorder_sequence",
    "bom_id",
    "picking_type_id",
    "location_src_id",
    "location_dest_id",
    "date_finished",
    ctx.fields.moLotProducing.field,
    ctx.fields.moGroup,
  ];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The family of `ref`: every order sharing a group with the orders named `ref` or `<ref>-NNN`. */
export async function orderFamily(
  ctx: PostingContext,
  ref: string,
  equipment: EquipmentMap,
): Promise<Family> {
  const fields = orderFields(ctx);
  const named = /^(.*)-(\d{3})$/.exec(ref);
  const base = named ? (named[1] as string) : ref;
  // `=like` may over-match (`_` and `%` in names): filtered exactly below.
  const byName = await ctx.odoo.searchRead(
    "mrp.production",
    ["|", ["name", "=", ref], ["name", "=like", `${base}-%`]],
    {
      fields,
    },
  );
  const member = new RegExp(`^${escapeRegExp(base)}(-\\d{3})?$`);
  const first = byName.filter((r) => member.test(String(r["name"])));
  if (first.length === 0)
    throw new PermanentError(
      OutboundErrorCode.OrderNotFound,
      `Odoo has no manufacturing order ${ref} (nor a backorder of it): check the order reference the machine reported`,
    );
  const groups = [...new Set(first.map((r) => m2oId(r[ctx.fields.moGroup])).filter((g) => g !== false))];
  const rows =
    groups.length === 0
      ? first
      : await ctx.odoo.searchRead("mrp.production", [[ctx.fields.moGroup, "in", groups]], {
          fields,
          order: "backorder_sequence, id",
        });
  const ids = rows.map((r) => r["id"] as number);
  const workorders = await workOrdersOf(ctx, ids);
  const members = rows
    .map((row): FamilyMember => {
      const id = row["id"] as number;
      const own = workorders.filter((w) => w.productionId === id);
      const lines = new Set<string>();
      for (const w of own) {
        const line = w.workcenterCode !== null ? equipment.lineOf(w.workcenterCode) : undefined;
        if (line !== undefined) lines.add(line);
      }
      return { row, id, name: String(row["name"]), state: String(row["state"]), workorders: own, lines };
    })
    .sort(
      (a, b) =>
        Number(a.row["backorder_sequence"] ?? 0) - Number(b.row["backorder_sequence"] ?? 0) || a.id - b.id,
    );
  return { ref, members };
}

async function workOrdersOf(ctx: PostingContext, productionIds: number[]): Promise<WorkOrder[]> {
  if (productionIds.length === 0) return [];
  const rows = await ctx.odoo.searchRead("mrp.workorder", [["production_id", "in", productionIds]], {
    fields: ["production_id", "workcenter_id", "state"],
    order: "id",
  });
  const codes = await ctx.setup.workcenterCodes([
    ...new Set(rows.map((r) => m2oId(r["workcenter_id"])).filter((id) => id !== false)),
  ] as number[]);
  return rows.map((r) => {
    const workcenterId = m2oId(r["workcenter_id"]) as number;
    return {
      id: r["id"] as number,
      productionId: m2oId(r["production_id"]) as number,
      workcenterId,
      workcenterCode: codes.get(workcenterId) ?? null,
      state: String(r["state"]),
    };
  });
}

/**
 * The member that takes `line`'s counts now: the first open one (in backorder order) of that line,
 * else the first open one without a line. None open: CONNECTOR_ORDER_NOT_OPEN, naming every member's state.
 */
export function openMemberFor(family: Family, line: string | null): FamilyMember {
  const open = family.members.filter((m) => OPEN_STATES.has(m.state));
  const found =
    (line !== null ? open.find((m) => m.lines.has(line)) : undefined) ?? open.find((m) => m.lines.size === 0);
  if (found) return found;
  const elsewhere = open.filter((m) => m.lines.size > 0 && (line === null || !m.lines.has(line)));
  throw new PermanentError(
    OutboundErrorCode.OrderNotOpen,
    `no manufacturing order of ${family.ref} is open for production${line !== null ? ` on line ${line}` : ""} (${family.members
      .map((m) => `${m.name}: ${m.state}${m.lines.size ? ` on ${[...m.lines].join("+")}` : ""}`)
      .join(
        ", ",
      )})${elsewhere.length ? "" : ""}: confirm it or open a new one in Odoo, then replay the event`,
  );
}

/** The latest member of `line` that is done (late counts of a machine after its order closed). */
export function lastDoneMemberFor(family: Family, line: string | null): FamilyMember | undefined {
  const done = family.members.filter(
    (m) => m.state === "done" && (line === null || m.lines.size === 0 || m.lines.has(line)),
  );
  return done[done.length - 1];
}

/** The work order of `member` at the work centre `code`, if it has one. */
export function workOrderAt(member: FamilyMember, code: string): WorkOrder | undefined {
  return member.workorders.find((w) => w.workcenterCode === code);
}
