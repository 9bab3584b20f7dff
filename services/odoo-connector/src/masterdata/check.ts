/**
 * The master-data checks: what in Odoo's products, units, bills of materials, work centres and lots
 * would make a posting fail, land on the wrong record or lose time — found before a posting meets
 * it, with the records named. Pure: `loadSnapshot` (odoo.ts) reads what they look at.
 *
 * Blocking findings stop postings or lose data; warnings make the digital thread harder to follow:
 * - duplicate_code (blocking): active products sharing an internal reference. The connector finds a
 *   component by its code (a machine's rejected component, a quality hold's product): with two, it
 *   would take whichever Odoo lists first.
 * - duplicate_barcode (warning): products sharing a barcode (a GTIN names one product in EPCIS).
 * - bom_unit_category (blocking): a bill of materials whose unit, or a line whose unit, is not of the
 *   unit category of its product. Odoo refuses the stock move when the order is confirmed
 *   (stock_move.py `_check_uom`: "the unit of measure has a different category"); on 19, where units
 *   have no category, the unit must share the product unit's reference unit (uom_uom.py
 *   `relative_uom_id`).
 * - bom_archived_product (blocking): an active bill of materials for an archived product, or with an
 *   archived component. Odoo does not stop it (mrp_bom.py constrains cycles and by-products only):
 *   orders made from it make or consume a product nobody can pick any more.
 * - workcenter_unmapped (warning): an active work centre no line or machine maps to
 *   (WORKCENTER_BY_LINE): orders routed through it cannot be told a line.
 * - machine_unknown (blocking): a machine of the bridge's mapping whose work centre is not in Odoo:
 *   its running time and downtime are never logged.
 * - lot_convention (warning): lot names that break the site's convention (LOT_PATTERN).
 */

export const MASTER_DATA_CHECKS = {
  duplicate_code: "blocking",
  duplicate_barcode: "warning",
  bom_unit_category: "blocking",
  bom_archived_product: "blocking",
  workcenter_unmapped: "warning",
  machine_unknown: "blocking",
  lot_convention: "warning",
} as const;
export type MasterDataCheck = keyof typeof MASTER_DATA_CHECKS;
export type Severity = (typeof MASTER_DATA_CHECKS)[MasterDataCheck];

export interface RecordRef {
  readonly model: string;
  readonly id: number;
  readonly name: string;
}

export interface MasterDataFinding {
  readonly check: MasterDataCheck;
  readonly severity: Severity;
  readonly message: string;
  readonly records: readonly RecordRef[];
}

/** What the checks look at, as Odoo holds it (archived records included). */
export interface MasterDataSnapshot {
  readonly units: readonly {
    readonly id: number;
    readonly name: string;
    /** Units convert within one family: the category (16–18), the root reference unit (19). */
    readonly family: number | false;
  }[];
  readonly templates: readonly { readonly id: number; readonly name: string; readonly active: boolean }[];
  readonly products: readonly {
    readonly id: number;
    readonly templateId: number | false;
    readonly name: string;
    readonly code: string | null;
    readonly barcode: string | null;
    readonly unitId: number | false;
    readonly active: boolean;
  }[];
  readonly boms: readonly {
    readonly id: number;
    readonly name: string;
    readonly templateId: number | false;
    readonly productId: number | false;
    readonly unitId: number | false;
    readonly active: boolean;
    readonly lines: readonly {
      readonly id: number;
      readonly productId: number | false;
      readonly unitId: number | false;
    }[];
  }[];
  readonly workcenters: readonly {
    readonly id: number;
    readonly code: string | null;
    readonly name: string;
    readonly active: boolean;
  }[];
  readonly lots: readonly { readonly id: number; readonly name: string }[];
}

export interface MasterDataCheckOptions {
  /** WORKCENTER_BY_LINE: line or `line/machine` → work centre code. @default {} (no mapping check) */
  readonly workcenterByLine?: Readonly<Record<string, string>>;
  /** The machines of the bridge's mapping, each with the work centre code its line/machine maps to. */
  readonly machines?: readonly {
    readonly line: string;
    readonly machine: string;
    readonly workcenter: string;
  }[];
  /** The site's lot convention. @default none (lots not checked) */
  readonly lotPattern?: RegExp;
  /** Records named per finding at most. @default 20 */
  readonly maxRecords?: number;
}

export interface MasterDataReport {
  readonly findings: readonly MasterDataFinding[];
  /** Findings per check (0 for a check that found nothing), for metrics. */
  readonly counts: Readonly<Record<MasterDataCheck, number>>;
  readonly blocking: boolean;
}

export function checkMasterData(
  data: MasterDataSnapshot,
  options: MasterDataCheckOptions = {},
): MasterDataReport {
  const max = options.maxRecords ?? 20;
  const findings: MasterDataFinding[] = [];
  const add = (check: MasterDataCheck, message: string, records: RecordRef[]) =>
    findings.push({ check, severity: MASTER_DATA_CHECKS[check], message, records: records.slice(0, max) });
  const product = (id: number | false) => (id === false ? undefined : products.get(id));
  const products = new Map(data.products.map((p) => [p.id, p]));
  const units = new Map(data.units.map((u) => [u.id, u]));
  const templates = new Map(data.templates.map((t) => [t.id, t]));
  // A template's first variant stands for it (its unit is the template's).
  const variants = new Map<number, MasterDataSnapshot["products"][number]>();
  for (const p of data.products)
    if (p.templateId !== false && !variants.has(p.templateId)) variants.set(p.templateId, p);
  const ref = (model: string, r: { id: number; name: string }): RecordRef => ({
    model,
    id: r.id,
    name: r.name,
  });
  const unitName = (id: number | false) =>
    id === false ? "no unit" : (units.get(id)?.name ?? `uom.uom ${id}`);

  for (const [field, label, check] of [
    ["code", "internal reference", "duplicate_code"],
    ["barcode", "barcode", "duplicate_barcode"],
  ] as const) {
    const byValue = new Map<string, RecordRef[]>();
    for (const p of data.products) {
      const value = p[field];
      if (!p.active || value === null || value.trim() === "") continue;
      byValue.set(value, [...(byValue.get(value) ?? []), ref("product.product", p)]);
    }
    for (const [value, records] of byValue)
      if (records.length > 1)
        add(
          check,
          `${records.length} active products share the ${label} ${value}: ${names(records)}`,
          records,
        );
  }

  const family = (id: number | false) => (id === false ? undefined : units.get(id)?.family);
  for (const bom of data.boms) {
    if (!bom.active) continue;
    const bomRef = ref("mrp.bom", bom);
    const finished = product(bom.productId);
    const template = bom.templateId === false ? undefined : templates.get(bom.templateId);
    const finishedUnit =
      finished?.unitId ??
      (bom.templateId === false ? undefined : variants.get(bom.templateId))?.unitId ??
      false;
    if (finishedUnit !== false && bom.unitId !== false && family(finishedUnit) !== family(bom.unitId))
      add(
        "bom_unit_category",
        `${bom.name} makes its product in ${unitName(bom.unitId)}, which does not convert to the product's unit ${unitName(finishedUnit)}`,
        [bomRef],
      );
    if ((finished && !finished.active) || (template && !template.active))
      add(
        "bom_archived_product",
        `${bom.name} is active but its product ${finished?.name ?? template?.name} is archived`,
        [bomRef, ...(finished ? [ref("product.product", finished)] : [])],
      );
    for (const line of bom.lines) {
      const component = product(line.productId);
      if (!component) continue;
      if (!component.active)
        add("bom_archived_product", `${bom.name} consumes ${component.name}, which is archived`, [
          bomRef,
          ref("product.product", component),
        ]);
      if (
        component.unitId !== false &&
        line.unitId !== false &&
        family(component.unitId) !== family(line.unitId)
      )
        add(
          "bom_unit_category",
          `${bom.name} consumes ${component.name} in ${unitName(line.unitId)}, which does not convert to its unit ${unitName(component.unitId)}`,
          [bomRef, ref("product.product", component)],
        );
    }
  }

  if (options.workcenterByLine) {
    const mapped = new Set(Object.values(options.workcenterByLine));
    const unmapped = data.workcenters.filter((w) => w.active && (w.code === null || !mapped.has(w.code)));
    if (unmapped.length > 0)
      add(
        "workcenter_unmapped",
        `${unmapped.length} active work centre(s) no line or machine maps to (WORKCENTER_BY_LINE): ${names(unmapped.map((w) => ref("mrp.workcenter", w)))}`,
        unmapped.map((w) => ref("mrp.workcenter", w)),
      );
  }
  if (options.machines) {
    const known = new Set(data.workcenters.filter((w) => w.active && w.code !== null).map((w) => w.code));
    for (const m of options.machines)
      if (!known.has(m.workcenter))
        add(
          "machine_unknown",
          `machine ${m.line}/${m.machine} maps to work centre ${m.workcenter}, which Odoo does not have (or has archived): its running time and downtime are never logged`,
          [],
        );
  }
  if (options.lotPattern) {
    const pattern = options.lotPattern;
    const bad = data.lots.filter((l) => !pattern.test(l.name));
    if (bad.length > 0)
      add(
        "lot_convention",
        `${bad.length} lot name(s) break the site's convention ${pattern.source}: ${names(bad.slice(0, 5).map((l) => ref("stock.lot", l)))}`,
        bad.map((l) => ref("stock.lot", l)),
      );
  }

  const counts = Object.fromEntries(Object.keys(MASTER_DATA_CHECKS).map((c) => [c, 0])) as Record<
    MasterDataCheck,
    number
  >;
  for (const f of findings) counts[f.check] += 1;
  return { findings, counts, blocking: findings.some((f) => f.severity === "blocking") };
}

function names(records: readonly RecordRef[]): string {
  return records.map((r) => r.name).join(", ");
}
