/**
 * mrp.workcenter → WorkCenter (mfg.masterdata.work_center.v1), every work centre, archived ones
 * included. Odoo's fields (odoo/odoo addons/mrp/models/mrp_workcenter.py, 16–19): `name`, `code`,
 * `active`. Its operations are per BoM in Odoo (mrp.routing.workcenter `bom_id`, mrp_routing.py), so
 * they are published with their BoM (masterdata-bom.ts), each naming its work centre by code.
 */
import type { WorkCenter } from "../../../../../contracts/src/index.js";
import type { InboundSource, MappingContext, PageResult } from "../source.js";
import type { OdooRow } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  mapEach,
  masterDataEmission,
  optionalText,
  requiredText,
} from "./masterdata-common.js";

const MODEL = "mrp.workcenter";
/** What its records become. */
const TYPE = "mfg.masterdata.work_center.v1";

export const workCenterSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  domain: () => ACTIVE_AND_ARCHIVED,
  fields: () => ["code", "name", "active", "write_date"],
  map: mapWorkCenters,
};

async function mapWorkCenters(rows: readonly OdooRow[], ctx: MappingContext): Promise<PageResult> {
  const { values, refusals } = await mapEach(
    rows,
    MODEL,
    TYPE,
    (row): WorkCenter => ({
      odooId: BigInt(row.id),
      code: optionalText(row, "code"),
      name: requiredText(row, "name"),
      site: ctx.site,
      active: bool(row, "active"),
      updatedAt: datetime(row, "write_date"),
    }),
  );
  return {
    events: values.map((w) => masterDataEmission(ctx, TYPE, MODEL, w, w.code ?? w.name)),
    writes: [],
    refusals,
  };
}
