/**
 * The per-version differences of Odoo 16–19 the simulator reproduces, in one table. Each entry says
 * where it was verified (odoo/odoo source, OCA/OpenUpgrade analysis files, odoo/documentation);
 * tools/sim/odoo/README.md renders the same facts for humans.
 */
import { pyRepr } from "./py.js";

export const PROFILE_VERSIONS = [16, 17, 18, 19] as const;
export type ProfileVersion = (typeof PROFILE_VERSIONS)[number];

export interface Profile {
  readonly version: ProfileVersion;
  /** `common.version()`: server_version, server_version_info, server_serie, protocol_version. */
  readonly serverVersion: string;
  readonly serverVersionInfo: readonly [number, number, number, string, number, string];
  /** POST /json/2/<model>/<method> with bearer API keys exists (19.0+, odoo/documentation external_api). */
  readonly json2: boolean;
  /** /xmlrpc, /xmlrpc/2 and /jsonrpc are deprecated (still served) — 19.0. */
  readonly rpcDeprecated: boolean;
  /**
   * JSON-RPC `error.code` of an ordinary server error: 200 up to 18, 0 in 19
   * (odoo/http.py JsonRPCDispatcher.handle_error: `'code': 0,  # we don't care of this code`).
   */
  readonly jsonRpcErrorCode: number;
  /** `serialize_exception` member order: 16/17 name,debug,message,…; 18+ name,message,arguments,context,debug. */
  readonly debugLast: boolean;
  /** mrp.production / mrp.workorder planned dates: date_planned_start/finished (16) → date_start/finished (17+). */
  readonly mrpPlannedStart: "date_planned_start" | "date_start";
  readonly mrpPlannedFinished: "date_planned_finished" | "date_finished";
  /** stock.move.line done quantity: qty_done (16) → quantity + picked (17+); stock.move quantity_done → quantity. */
  readonly moveLineQty: "qty_done" | "quantity";
  readonly moveQty: "quantity_done" | "quantity";
  readonly picked: boolean;
  /** mrp.immediate.production / stock.immediate.transfer wizards exist (16 only; obsolete in 17). */
  readonly immediateWizards: boolean;
  /** BaseModel.name_get exists (16; deprecated in 17; removed in 18). */
  readonly nameGet: boolean;
  /** First parameter name of search/search_count: `args` (16) → `domain` (17+); `count=` only in 16. */
  readonly searchParam: "args" | "domain";
  readonly searchCount: boolean;
  /** name_search's domain parameter: `args` (≤17) → `domain` (18+). */
  readonly nameSearchParam: "args" | "domain";
  /** mrp.production.lot_producing_id (≤18) → lot_producing_ids many2many (19). */
  readonly lotProducingMany: boolean;
  /** mrp.workorder states: pending/waiting/ready/progress/done/cancel (≤18); blocked/ready/progress/done/cancel (19). */
  readonly workorderBlockedState: boolean;
  /** product.template.type 'product' + detailed_type (≤17) → type consu/service/combo + is_storable (18+). */
  readonly isStorable: boolean;
  /** uom.category model (≤18; removed in 19). */
  readonly uomCategory: boolean;
  /** stock.move.name (required ≤18; removed in 19). */
  readonly stockMoveName: boolean;
  /**
   * Domains compare datetimes to the whole second (the stored microseconds are ignored): 19
   * (odoo/odoo#203626 "domain optimize microseconds", 18.4). Before, `create_date > x` can match a row
   * read back as x (odoo/odoo#24102).
   */
  readonly datetimeWholeSeconds: boolean;
  /** "Send Webhook Notification" server actions (17.0+). */
  readonly webhooks: boolean;
  /** Get-public-method errors (18+: "The method 'm.x' does not exist"). */
  readonly publicMethodErrors: boolean;
  /** Message of the ValueError raised for an unknown field in a domain. */
  invalidDomainField(model: string, field: string, leaf: readonly unknown[]): string;
}

const legacyInvalidField = (model: string, field: string, leaf: readonly unknown[]) =>
  `Invalid field ${model}.${field} in leaf ${pyRepr(leaf, true)}`;
const modernInvalidField = (model: string, field: string) =>
  `Invalid field ${pyRepr(field)} on model ${pyRepr(model)}`;

function profile(version: ProfileVersion): Profile {
  const ge = (v: number) => version >= v;
  return {
    version,
    serverVersion: `${version}.0`,
    serverVersionInfo: [version, 0, 0, "final", 0, ""],
    json2: ge(19),
    rpcDeprecated: ge(19),
    jsonRpcErrorCode: ge(19) ? 0 : 200,
    debugLast: ge(18),
    mrpPlannedStart: ge(17) ? "date_start" : "date_planned_start",
    mrpPlannedFinished: ge(17) ? "date_finished" : "date_planned_finished",
    moveLineQty: ge(17) ? "quantity" : "qty_done",
    moveQty: ge(17) ? "quantity" : "quantity_done",
    picked: ge(17),
    immediateWizards: !ge(17),
    nameGet: !ge(18),
    searchParam: ge(17) ? "domain" : "args",
    searchCount: !ge(17),
    nameSearchParam: ge(18) ? "domain" : "args",
    lotProducingMany: ge(19),
    workorderBlockedState: ge(19),
    isStorable: ge(18),
    uomCategory: !ge(19),
    stockMoveName: !ge(19),
    datetimeWholeSeconds: ge(19),
    webhooks: ge(17),
    publicMethodErrors: ge(18),
    invalidDomainField: ge(18) ? modernInvalidField : legacyInvalidField,
  };
}

export const PROFILES: Readonly<Record<ProfileVersion, Profile>> = {
  16: profile(16),
  17: profile(17),
  18: profile(18),
  19: profile(19),
};

export function getProfile(version: number): Profile {
  const p = PROFILES[version as ProfileVersion];
  if (!p)
    throw new RangeError(`unknown Odoo profile ${version}: expected one of ${PROFILE_VERSIONS.join(", ")}`);
  return p;
}
