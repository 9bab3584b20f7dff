/**
 * What differs between the Odoo versions the connector supports (16, 17, 18, 19), in one table:
 * field and model names it reads and writes, and which wizards a button may answer with. Every
 * other module asks this table instead of testing version numbers. Sources: the OpenUpgrade
 * analyses of mrp and stock 16.0–19.0 and Odoo's own code (see tools/sim/odoo/README.md).
 */
export type OdooMajor = 16 | 17 | 18 | 19;

export interface OdooFields {
  readonly major: OdooMajor;
  /** mrp.production planned start / end. */
  readonly moPlannedStart: string;
  readonly moPlannedEnd: string;
  /** The lot being produced on mrp.production: a many2one up to 18, a many2many from 19. */
  readonly moLotProducing: { readonly field: string; readonly many: boolean };
  /** Done quantity on stock.move.line and stock.move. */
  readonly moveLineQty: string;
  readonly moveQty: string;
  /**
   * What stock.move has reserved: `reserved_availability` (16, the lines' `reserved_uom_qty`) or the
   * move's `quantity` (17+, reserved or picked while not done).
   */
  readonly moveReserved: "reserved_availability" | "quantity";
  /** 17+: a quantity only counts once `picked` is set. */
  readonly hasPicked: boolean;
  /** The lot model. */
  readonly lotModel: "stock.lot";
  /** Wizards that exist only in 16 (`button_mark_done` / `button_validate` may return them). */
  readonly immediateProductionWizard: boolean;
  readonly immediateTransferWizard: boolean;
  /** Name of the domain parameter of search/search_read/search_count when passed by name. */
  readonly domainParam: "args" | "domain";
  /**
   * What links an order to its backorders and split siblings: a procurement group up to 18, a
   * production group (model `mrp.production.group`) from 19 (mrp_production.py `_get_backorder_mo_vals`).
   */
  readonly moGroup: "procurement_group_id" | "production_group_id";
  /**
   * The public `set_qty_producing()` (17+) fills component quantities as the form's onchange does;
   * 16 has only the private `_set_qty_producing` (reachable by writing a work order's qty_producing).
   */
  readonly hasSetQtyProducing: boolean;
  /** How a scrap and its move are linked: `stock.scrap.move_id` (16) or `stock.move.scrap_id` (17+). */
  readonly scrapMoveLink: "scrap.move_id" | "move.scrap_id";
}

export function odooFields(major: number): OdooFields {
  if (major < 16) throw new RangeError(`Odoo ${major} is not supported (16 to 19 are)`);
  const m = Math.min(major, 19) as OdooMajor;
  return {
    major: m,
    moPlannedStart: m === 16 ? "date_planned_start" : "date_start",
    moPlannedEnd: m === 16 ? "date_planned_finished" : "date_finished",
    moLotProducing:
      m >= 19 ? { field: "lot_producing_ids", many: true } : { field: "lot_producing_id", many: false },
    moveLineQty: m === 16 ? "qty_done" : "quantity",
    moveQty: m === 16 ? "quantity_done" : "quantity",
    moveReserved: m === 16 ? "reserved_availability" : "quantity",
    hasPicked: m >= 17,
    lotModel: "stock.lot",
    immediateProductionWizard: m === 16,
    immediateTransferWizard: m === 16,
    domainParam: m === 16 ? "args" : "domain",
    moGroup: m >= 19 ? "production_group_id" : "procurement_group_id",
    hasSetQtyProducing: m >= 17,
    scrapMoveLink: m === 16 ? "scrap.move_id" : "move.scrap_id",
  };
}
