import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import {
  type EpcisDocument,
  epcisDocument,
  gtin14,
  lotClassUri,
  type ObjectEvent,
  type TransformationEvent,
} from "../../services/genealogy-builder/src/epcis.js";
import { GenealogyError } from "../../services/genealogy-builder/src/errors.js";
import type {
  HoldSummary,
  ShipmentSummary,
  TraceEdge,
  TraceLot,
  TraceResult,
} from "../../services/genealogy-builder/src/query/types.js";

/** GS1's published EPCIS 2.0 JSON schema, verbatim (fixtures/gs1/SOURCE.md says where from). */
const SCHEMA = JSON.parse(
  readFileSync(join(PACKAGE_ROOT, "test/genealogy-builder/fixtures/gs1/EPCIS-JSON-Schema.json"), "utf8"),
) as object;
// Draft-07, Ajv's default dialect. Not `strict`: ajv's strict mode lints how a schema is written (GS1's
// names `transformationID` in a `required` beside no `properties`) and would refuse to compile it;
// validation itself is the same. ajv-formats checks `uri` and `date-time`.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormatsModule.default(ajv);
const validateEpcis = ajv.compile(SCHEMA);

/** Validates what goes on the wire (the JSON text, parsed back); fails with ajv's errors. */
function assertValid(doc: EpcisDocument): void {
  const ok = validateEpcis(JSON.parse(JSON.stringify(doc)));
  assert.ok(
    ok,
    `not valid against GS1's EPCIS 2.0 schema:\n${JSON.stringify(validateEpcis.errors, null, 2)}`,
  );
}

// Barcodes: GTIN-13s with valid check digits, a GTIN-8, and a 13-digit code whose check digit is wrong.
const SUGAR_GTIN = "4012345000016";
const COOKIE_GTIN = "5901234123457";
const BOX_GTIN = "06141417";
const NOT_A_GTIN = "4012345000017";

const CREATED = new Date("2026-11-20T12:00:00.000Z");
const SUGAR = { product: "RM-SUGAR", lot: "S1-2026-11" };
const FLOUR = { product: "#42", lot: "F-2026/11" }; // no internal reference, no barcode
const DOUGH = { product: "INT-DOUGH", lot: "D-001" };
const COOKIES = { product: "FG-COOKIE", lot: "C-2026-001" };
const BOXES = { product: "PKG-BOX", lot: "" }; // untracked

function lot(ref: { product: string; lot: string }, depth: number, more: Partial<TraceLot> = {}): TraceLot {
  return {
    ...ref,
    depth,
    productName: null,
    barcode: null,
    supplierLot: null,
    registeredAt: null,
    expiresAt: null,
    quantity: null,
    orders: [],
    machines: [],
    holds: [],
    stock: [],
    status: "CONSUMED",
    ...more,
  };
}

function edge(
  from: { product: string; lot: string },
  to: { product: string; lot: string },
  net: string,
  uom: string,
  order: string,
  lastAt: string,
): TraceEdge {
  return {
    from,
    to,
    uom,
    consumed: net,
    returned: "0",
    net,
    orders: [order],
    firstAt: lastAt,
    lastAt,
    events: [`evt-${from.product}-${to.product}`],
  };
}

const SUGAR_HOLD: HoldSummary = {
  holdId: "QH-7",
  reason: "supplier recall",
  placedAt: "2026-11-12T09:00:00.000Z",
  placedBy: "quality",
  status: "ACTIVE",
  releasedAt: null,
};
const DOUGH_HOLD: HoldSummary = {
  holdId: "QH-3",
  reason: "moisture check",
  placedAt: "2026-11-03T11:00:00.000Z",
  placedBy: "quality",
  status: "RELEASED",
  releasedAt: "2026-11-03T15:30:00.000Z",
};

const SHIPMENT: ShipmentSummary = {
  pickingRef: "WH/OUT/00007",
  site: "PLANT-1",
  status: "SHIPPED",
  customerRef: "CUST-ACME",
  customerName: "Acme Foods",
  salesOrder: "S00042",
  requestedAt: "2026-11-05T08:00:00.000Z",
  shippedAt: "2026-11-06T14:00:00.000Z",
  lines: [{ ...COOKIES, quantity: { value: "240", uom: "Units" } }],
  tracedQuantity: { value: "240", uom: "Units" },
};

/**
 * The finished lot's traces: cookies (GTIN) made by WH/MO/00002 from dough and a dozen-counted box
 * (GTIN-8, untracked); the dough (no valid GTIN) made by WH/MO/00001 from sugar (GTIN, now on hold)
 * and flour (no GTIN); the cookies shipped to Acme.
 */
function traces(): { backward: TraceResult; forward: TraceResult } {
  const cookies = lot(COOKIES, 0, {
    barcode: COOKIE_GTIN,
    quantity: { value: "480", uom: "Units" },
    orders: ["WH/MO/00002"],
    machines: [
      {
        site: "PLANT-1",
        line: "PACK-2",
        machine: "WRAP-01",
        orders: ["WH/MO/00002"],
        good: null,
        firstAt: "2026-11-04T08:00:00.000Z",
        lastAt: "2026-11-04T10:00:00.000Z",
      },
      {
        site: "PLANT-1",
        line: "PACK-2",
        machine: "OVEN-03",
        orders: ["WH/MO/00002"],
        good: { value: "480", uom: "Units" },
        firstAt: "2026-11-04T08:00:00.000Z",
        lastAt: "2026-11-04T10:00:00.000Z",
      },
    ],
    status: "SHIPPED",
  });
  const dough = lot(DOUGH, 1, {
    barcode: NOT_A_GTIN,
    quantity: { value: "40", uom: "kg" },
    orders: ["WH/MO/00001"],
    holds: [DOUGH_HOLD],
  });
  const sugar = lot(SUGAR, 2, { barcode: SUGAR_GTIN, supplierLot: "SUP-889", holds: [SUGAR_HOLD] });
  const flour = lot(FLOUR, 2, { supplierLot: "MILL-12" });
  const boxes = lot(BOXES, 1, { barcode: BOX_GTIN });
  const doughMade = "2026-11-03T10:00:00.000Z";
  const cookiesMade = "2026-11-04T10:00:00.000Z";
  const base = { depth: 10, since: null, until: null, truncated: false, massBalance: {}, cyclesSkipped: 0 };
  const backward: TraceResult = {
    ...base,
    root: cookies,
    direction: "backward",
    lots: [cookies, dough, boxes, sugar, flour],
    edges: [
      edge(DOUGH, COOKIES, "40", "kg", "WH/MO/00002", cookiesMade),
      edge(BOXES, COOKIES, "2", "Dozens", "WH/MO/00002", cookiesMade),
      edge(SUGAR, DOUGH, "12.5", "kg", "WH/MO/00001", doughMade),
      edge(FLOUR, DOUGH, "27500", "g", "WH/MO/00001", doughMade),
    ],
    orders: [
      {
        orderRef: "WH/MO/00001",
        product: DOUGH.product,
        site: "PLANT-1",
        line: "MIX-1",
        quantity: { value: "40", uom: "kg" },
        releasedAt: "2026-11-02T07:00:00.000Z",
        completedAt: doughMade,
        produced: { value: "40", uom: "kg" },
      },
    ],
    supplierLots: [
      { lot: SUGAR, supplierLot: "SUP-889" },
      { lot: FLOUR, supplierLot: "MILL-12" },
    ],
    shipments: [],
    customers: [],
  };
  const forward: TraceResult = {
    ...base,
    root: cookies,
    direction: "forward",
    lots: [cookies],
    edges: [],
    orders: [],
    supplierLots: [],
    shipments: [SHIPMENT],
    customers: [
      { customerRef: "CUST-ACME", name: "Acme Foods", shipments: ["WH/OUT/00007"], tracedQuantity: null },
    ],
  };
  return { backward, forward };
}

const transformations = (doc: EpcisDocument) =>
  doc.epcisBody.eventList.filter((e): e is TransformationEvent => e.type === "TransformationEvent");
const objectEvents = (doc: EpcisDocument, bizStep: ObjectEvent["bizStep"]) =>
  doc.epcisBody.eventList.filter((e): e is ObjectEvent => e.type === "ObjectEvent" && e.bizStep === bizStep);

const SUGAR_URI = "https://id.gs1.org/01/04012345000016/10/S1-2026-11";
const COOKIES_URI = "https://id.gs1.org/01/05901234123457/10/C-2026-001";
const FLOUR_URI = "urn:threadline:lot:%2342:F-2026%2F11";
const DOUGH_URI = "urn:threadline:lot:INT-DOUGH:D-001";
const BOXES_URI = "https://id.gs1.org/01/00000006141417";

describe("genealogy - EPCIS export", () => {
  test("a lot's genealogy is an EPCIS 2.0 document that GS1's published JSON schema accepts", () => {
    const { backward, forward } = traces();
    const doc = epcisDocument(backward, forward, { creationDate: CREATED, senderId: "urn:threadline:acme" });
    assertValid(doc);
    assert.deepEqual(doc["@context"], ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
    assert.equal(doc.type, "EPCISDocument");
    assert.equal(doc.schemaVersion, "2.0");
    assert.equal(doc.creationDate, "2026-11-20T12:00:00.000Z");
    assert.equal(doc.sender, "urn:threadline:acme");
    // Two production steps, the hold placed and released on the dough, the sugar's hold, the shipment.
    assert.equal(doc.epcisBody.eventList.length, 6);
  });

  test("the schema check has teeth: a unit name where a UN/CEFACT code belongs is refused", () => {
    const { backward, forward } = traces();
    const doc = JSON.parse(JSON.stringify(epcisDocument(backward, forward, { creationDate: CREATED })));
    doc.epcisBody.eventList[0].inputQuantityList[0].uom = "g";
    assert.equal(validateEpcis(doc), false);
    assert.ok(validateEpcis.errors?.some((e) => e.instancePath.endsWith("/inputQuantityList/0/uom")));
  });

  test("each production step is a TransformationEvent from the component lots to the produced lot", () => {
    const { backward, forward } = traces();
    const [dough, cookies] = transformations(epcisDocument(backward, forward, { creationDate: CREATED }));
    assert.ok(dough && cookies);
    assert.deepEqual(dough.inputQuantityList, [
      { epcClass: FLOUR_URI, quantity: 27500, uom: "GRM" },
      { epcClass: SUGAR_URI, quantity: 12.5, uom: "KGM" },
    ]);
    assert.deepEqual(dough.outputQuantityList, [{ epcClass: DOUGH_URI, quantity: 40, uom: "KGM" }]);
    assert.deepEqual(dough.bizTransactionList, [
      { type: "prodorder", bizTransaction: "urn:threadline:prodorder:WH%2FMO%2F00001" },
    ]);
    assert.equal(dough.bizStep, "commissioning");
    assert.equal(dough.eventTime, "2026-11-03T10:00:00.000Z");
    assert.equal(dough.eventTimeZoneOffset, "+00:00");
    // No machine counted the dough: the order's line is where it was made.
    assert.deepEqual(dough.readPoint, { id: "urn:threadline:line:PLANT-1:MIX-1" });
    assert.deepEqual(dough.bizLocation, { id: "urn:threadline:site:PLANT-1" });

    // Two dozen boxes count as 24; Units are a count (no uom); the counting machine is the read point.
    assert.deepEqual(cookies.inputQuantityList, [
      { epcClass: DOUGH_URI, quantity: 40, uom: "KGM" },
      { epcClass: BOXES_URI, quantity: 24 },
    ]);
    assert.deepEqual(cookies.outputQuantityList, [{ epcClass: COOKIES_URI, quantity: 480 }]);
    assert.deepEqual(cookies.readPoint, { id: "urn:threadline:machine:PLANT-1:PACK-2:OVEN-03" });
  });

  test("the shipment is an ObjectEvent in transit to the customer, with its picking and sales order", () => {
    const { backward, forward } = traces();
    const [shipping, ...more] = objectEvents(
      epcisDocument(backward, forward, { creationDate: CREATED }),
      "shipping",
    );
    assert.equal(more.length, 0);
    assert.ok(shipping);
    assert.equal(shipping.action, "OBSERVE");
    assert.equal(shipping.disposition, "in_transit");
    assert.equal(shipping.eventTime, "2026-11-06T14:00:00.000Z");
    assert.deepEqual(shipping.destinationList, [
      { type: "owning_party", destination: "urn:threadline:party:CUST-ACME" },
    ]);
    assert.deepEqual(shipping.bizTransactionList, [
      { type: "desadv", bizTransaction: "urn:threadline:picking:WH%2FOUT%2F00007" },
      { type: "po", bizTransaction: "urn:threadline:salesorder:S00042" },
    ]);
    assert.deepEqual(shipping.quantityList, [{ epcClass: COOKIES_URI, quantity: 240 }]);
  });

  test("a quality hold is a holding event that makes the lot non-sellable; its release an inspection", () => {
    const { backward, forward } = traces();
    const doc = epcisDocument(backward, forward, { creationDate: CREATED });
    const holding = objectEvents(doc, "holding");
    assert.deepEqual(
      holding.map((e) => [e.quantityList, e.disposition, e.eventTime]),
      [
        [[{ epcClass: DOUGH_URI }], "non_sellable_other", "2026-11-03T11:00:00.000Z"],
        [[{ epcClass: SUGAR_URI }], "non_sellable_other", "2026-11-12T09:00:00.000Z"],
      ],
    );
    const released = objectEvents(doc, "inspecting");
    assert.deepEqual(
      released.map((e) => [e.quantityList, e.disposition]),
      [[[{ epcClass: DOUGH_URI }], "conformant"]],
    );
  });

  test("events come in time order, each with its own id", () => {
    const { backward, forward } = traces();
    const events = epcisDocument(backward, forward, { creationDate: CREATED }).epcisBody.eventList;
    assert.deepEqual(
      events.map((e) => [e.eventTime, e.type, e.bizStep]),
      [
        ["2026-11-03T10:00:00.000Z", "TransformationEvent", "commissioning"],
        ["2026-11-03T11:00:00.000Z", "ObjectEvent", "holding"],
        ["2026-11-03T15:30:00.000Z", "ObjectEvent", "inspecting"],
        ["2026-11-04T10:00:00.000Z", "TransformationEvent", "commissioning"],
        ["2026-11-06T14:00:00.000Z", "ObjectEvent", "shipping"],
        ["2026-11-12T09:00:00.000Z", "ObjectEvent", "holding"],
      ],
    );
    assert.equal(new Set(events.map((e) => e.eventID)).size, events.length);
    for (const e of events) assert.match(e.eventID, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab]/);
  });

  test("the same traces give the same document byte for byte, in whatever order their rows come", () => {
    const a = traces();
    const b = traces();
    const reversed: TraceResult = {
      ...b.backward,
      lots: [...b.backward.lots].reverse(),
      edges: [...b.backward.edges].reverse(),
    };
    const first = JSON.stringify(epcisDocument(a.backward, a.forward, { creationDate: CREATED }));
    assert.equal(JSON.stringify(epcisDocument(a.backward, a.forward, { creationDate: CREATED })), first);
    assert.equal(JSON.stringify(epcisDocument(reversed, b.forward, { creationDate: CREATED })), first);
  });

  test("a lot made by two orders: the first step commissions it, the second creates more of it", () => {
    const { backward, forward } = traces();
    const sugar2 = { product: "RM-SUGAR", lot: "S2-2026-11" };
    const again = edge(sugar2, DOUGH, "3", "kg", "WH/MO/00009", "2026-11-08T10:00:00.000Z");
    const more = { ...backward, lots: [...backward.lots, lot(sugar2, 2)], edges: [...backward.edges, again] };
    const doc = epcisDocument(more, forward, { creationDate: CREATED });
    assertValid(doc);
    const steps = transformations(doc).filter((e) => e.outputQuantityList[0]?.epcClass === DOUGH_URI);
    assert.deepEqual(
      steps.map((e) => [e.bizStep, e.outputQuantityList, e.bizTransactionList?.[0]?.bizTransaction]),
      [
        ["commissioning", [{ epcClass: DOUGH_URI }], "urn:threadline:prodorder:WH%2FMO%2F00001"],
        ["creating_class_instance", [{ epcClass: DOUGH_URI }], "urn:threadline:prodorder:WH%2FMO%2F00009"],
      ],
    );
  });

  test("a unit EPCIS has no code for gives the class without a quantity, never a wrong one", () => {
    const { backward, forward } = traces();
    const odd = edge(FLOUR, DOUGH, "3", "Bags", "WH/MO/00001", "2026-11-03T10:00:00.000Z");
    const doc = epcisDocument({ ...backward, edges: [...backward.edges, odd] }, forward, {
      creationDate: CREATED,
    });
    assertValid(doc);
    const [dough] = transformations(doc);
    assert.deepEqual(
      dough?.inputQuantityList.filter((q) => q.epcClass === FLOUR_URI),
      [{ epcClass: FLOUR_URI }, { epcClass: FLOUR_URI, quantity: 27500, uom: "GRM" }],
    );
  });

  test("identifiers: GS1 Digital Link where the barcode is a valid GTIN, the private scheme otherwise", () => {
    assert.equal(gtin14("5901234123457"), "05901234123457");
    assert.equal(gtin14("06141417"), "00000006141417");
    assert.equal(gtin14("4012345000017"), null, "wrong check digit");
    assert.equal(gtin14("123456789"), null, "9 digits is no GTIN length");
    assert.equal(gtin14(null), null);
    assert.equal(
      lotClassUri({ product: "FG-COOKIE", lot: "L+1/2" }, COOKIE_GTIN),
      "https://id.gs1.org/01/05901234123457/10/L%2B1%2F2",
    );
    // A lot name that is no valid AI 10 (over 20 characters, or a space) cannot go in a Digital Link.
    assert.equal(
      lotClassUri({ product: "FG-COOKIE", lot: "A-LOT-NAME-OF-24-CHARS-X" }, COOKIE_GTIN),
      "urn:threadline:lot:FG-COOKIE:A-LOT-NAME-OF-24-CHARS-X",
    );
    assert.equal(
      lotClassUri({ product: "FG-COOKIE", lot: "L 1" }, COOKIE_GTIN),
      "urn:threadline:lot:FG-COOKIE:L%201",
    );
    assert.equal(lotClassUri({ product: "#7", lot: "" }, null), "urn:threadline:product:%237");
  });

  test("traces of two different lots, or in the wrong directions, are refused by name", () => {
    const { backward, forward } = traces();
    assert.throws(
      () => epcisDocument(forward, backward),
      (e: unknown) => e instanceof GenealogyError && e.code === "GENEALOGY_QUERY_INVALID",
    );
    const other = { ...forward, root: lot(DOUGH, 0) };
    assert.throws(
      () => epcisDocument(backward, other),
      (e: unknown) => e instanceof GenealogyError && /two lots/.test(e.message),
    );
  });
});
