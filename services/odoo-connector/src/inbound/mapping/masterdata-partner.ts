/**
 * res.partner → Partner (mfg.masterdata.partner.v1): only the partners the plant ships to — those an
 * outgoing picking names (stock.picking `partner_id` with `picking_type_code` outgoing) — archived
 * ones included.
 *
 * Why not every partner: res.partner also holds employees' and users' private contacts and every
 * vendor; publishing them would spread personal data to every service that reads master data, for
 * nothing the shop floor needs. Why not "customers": `customer_rank` comes with the sale/account
 * modules, which a manufacturing database need not have, while the shipment is what the plant acts on.
 *
 * Two paths publish them: this source follows the partners' write_date (a rename, an archive) and
 * keeps those that ship; the shipment source (shipment.ts) publishes the partners of the deliveries
 * it reads, so a partner that never changed is published with its first delivery. Both give the same
 * content, hence the same id.
 *
 * Odoo's fields (odoo/odoo odoo/addons/base/models/res_partner.py, 16–19): `name`, `ref`,
 * `is_company`, `parent_id`, `active`, `country_id` (res.country, `code` ISO 3166-1 alpha-2; read
 * where the server has it).
 */
import type { Partner } from "../../../../../contracts/src/index.js";
import type { Emission, InboundSource, MappingContext, Refusal } from "../source.js";
import { m2oId, m2oName, type OdooRow } from "../values.js";
import {
  ACTIVE_AND_ARCHIVED,
  bool,
  datetime,
  mapEach,
  masterDataEmission,
  optionalRef,
  optionalText,
} from "./masterdata-common.js";

const MODEL = "res.partner";
/** What its records become. */
const TYPE = "mfg.masterdata.partner.v1";
const FIELDS = ["name", "ref", "is_company", "parent_id", "active", "write_date"];
/** Read where the server has it (the sources list it in optionalFields). */
export const PARTNER_OPTIONAL_FIELDS = { [MODEL]: ["country_id"] } as const;

const fieldsOf = (ctx: MappingContext) => [
  ...FIELDS,
  ...(ctx.has(MODEL, "country_id") ? ["country_id"] : []),
];

export const partnerSource: InboundSource = {
  model: MODEL,
  cursorField: "write_date",
  triggeredBy: [MODEL],
  optionalFields: PARTNER_OPTIONAL_FIELDS,
  domain: () => ACTIVE_AND_ARCHIVED,
  fields: fieldsOf,
  map: async (rows, ctx) => {
    const shipping = await shippingPartners(
      rows.map((r) => r.id),
      ctx,
    );
    const { events, refusals } = await partnerVersions(
      rows.filter((r) => shipping.has(r.id)),
      ctx,
    );
    return { events, writes: [], refusals };
  },
};

/** The current version of partners `ids` (of deliveries being read), archived ones included. */
export async function partnerEmissions(
  ids: readonly number[],
  ctx: MappingContext,
): Promise<{ events: Emission[]; refusals: Refusal[] }> {
  const rows = await ctx.related.load(MODEL, ids, fieldsOf(ctx));
  return partnerVersions([...rows.values()], ctx);
}

async function partnerVersions(
  rows: readonly OdooRow[],
  ctx: MappingContext,
): Promise<{ events: Emission[]; refusals: Refusal[] }> {
  const countries = await ctx.related.load(
    "res.country",
    rows.map((r) => m2oId(r["country_id"]) ?? 0),
    ["code"],
  );
  const { values, refusals } = await mapEach(rows, MODEL, TYPE, (row): Partner => {
    const parent = optionalRef(row, "parent_id");
    const country = optionalRef(row, "country_id");
    return {
      odooId: BigInt(row.id),
      // A delivery address may have no name of its own (res.partner `check_name` requires one only
      // of contacts): it goes by its company's.
      name: optionalText(row, "name") ?? m2oName(row["parent_id"]) ?? `${MODEL}:${row.id}`,
      ref: optionalText(row, "ref"),
      site: ctx.site,
      country: country === null ? null : (optionalText(countries.get(country) ?? { id: 0 }, "code") ?? null),
      isCompany: bool(row, "is_company"),
      parentOdooId: parent === null ? null : BigInt(parent),
      active: bool(row, "active"),
      updatedAt: datetime(row, "write_date"),
    };
  });
  return {
    events: values.map((p) => masterDataEmission(ctx, TYPE, MODEL, p, p.ref ?? `${MODEL}:${p.odooId}`)),
    refusals,
  };
}

/** Which of `ids` an outgoing picking names. */
async function shippingPartners(ids: readonly number[], ctx: MappingContext): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const pickings = await ctx.client.searchRead<OdooRow>(
    "stock.picking",
    [
      ["picking_type_code", "=", "outgoing"],
      ["partner_id", "in", [...ids]],
    ],
    { fields: ["partner_id"] },
  );
  return new Set(pickings.map((p) => m2oId(p["partner_id"]) ?? 0));
}
