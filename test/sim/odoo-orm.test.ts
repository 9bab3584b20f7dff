import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RawOdooClient } from "../../tools/sim/odoo/client.js";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

type Auth = { db: string; uid: number; password: string };

describe("odoo simulator - domains over JSON-RPC", () => {
  let sim: OdooSimulator;
  let client: RawOdooClient;
  let auth: Auth;
  const names = async (model: string, domain: unknown[], field = "name") =>
    (
      (await client.call(auth, model, "search_read", [domain], { fields: [field], order: "id" })) as Record<
        string,
        unknown
      >[]
    )
      .map((r) => r[field])
      .sort();

  before(async () => {
    sim = await startOdooSimulator({ profile: 17, seed: 5 });
    client = new RawOdooClient(sim.url);
    auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
    const p = (name: string, extra: Record<string, unknown> = {}) =>
      sim.env.create("res.partner", { name, ...extra });
    const parent = await p("Acme Holding", { is_company: true, ref: "ACME" });
    await p("Acme Lyon", { parent_id: parent, email: "lyon@acme.test", ref: "A-LY" });
    await p("Acme Berlin", { parent_id: parent, ref: "A_BE" });
    await p("acme lowercase", { email: false });
    await p("Other Corp", { is_company: true, ref: "OTH", active: false });
  });
  after(() => sim.stop());

  const acme = ["Acme Berlin", "Acme Holding", "Acme Lyon", "acme lowercase"];
  const cases: [string, unknown[], string[]][] = [
    ["= on char", [["name", "=", "Acme Lyon"]], ["Acme Lyon"]],
    [
      "like wraps in %…% and is case-sensitive",
      [["name", "like", "Acme"]],
      ["Acme Berlin", "Acme Holding", "Acme Lyon"],
    ],
    ["ilike is case-insensitive", [["name", "ilike", "acme"]], acme],
    [
      "not ilike keeps the others",
      [
        ["name", "not ilike", "acme"],
        ["name", "ilike", "corp"],
      ],
      [],
    ],
    ["=like uses the pattern as given", [["name", "=like", "Acme L%"]], ["Acme Lyon"]],
    ["=ilike with _ wildcard", [["name", "=ilike", "acme _yon"]], ["Acme Lyon"]],
    ["like treats _ as a wildcard unless escaped", [["ref", "like", "A\\_BE"]], ["Acme Berlin"]],
    ["in", [["name", "in", ["Acme Lyon", "Acme Berlin", "nope"]]], ["Acme Berlin", "Acme Lyon"]],
    [
      "not in also matches NULL",
      [
        ["name", "ilike", "acme"],
        ["email", "not in", ["lyon@acme.test"]],
      ],
      ["Acme Berlin", "Acme Holding", "acme lowercase"],
    ],
    [
      "!= also matches NULL",
      [
        ["name", "ilike", "acme"],
        ["email", "!=", "lyon@acme.test"],
      ],
      ["Acme Berlin", "Acme Holding", "acme lowercase"],
    ],
    [
      "= False is IS NULL",
      [
        ["name", "ilike", "acme"],
        ["email", "=", false],
      ],
      ["Acme Berlin", "Acme Holding", "acme lowercase"],
    ],
    [
      "!= False is IS NOT NULL",
      [
        ["name", "ilike", "acme"],
        ["email", "!=", false],
      ],
      ["Acme Lyon"],
    ],
    [
      "| of two leaves",
      ["|", ["name", "=", "Acme Lyon"], ["name", "=", "Acme Berlin"]],
      ["Acme Berlin", "Acme Lyon"],
    ],
    ["! negates", [["name", "ilike", "acme"], "!", ["name", "like", "Acme"]], ["acme lowercase"]],
    [
      "implicit & after an |",
      ["|", ["name", "=", "Acme Lyon"], ["name", "=", "Acme Berlin"], ["email", "!=", false]],
      ["Acme Lyon"],
    ],
    [
      "nested & inside |",
      ["|", "&", ["name", "ilike", "acme"], ["is_company", "=", true], ["name", "=", "Acme Lyon"]],
      ["Acme Holding", "Acme Lyon"],
    ],
    [
      "! over an |",
      [["name", "ilike", "acme"], "!", "|", ["name", "=", "Acme Lyon"], ["name", "=", "Acme Berlin"]],
      ["Acme Holding", "acme lowercase"],
    ],
    ["dotted path through many2one", [["parent_id.ref", "=", "ACME"]], ["Acme Berlin", "Acme Lyon"]],
    ["many2one = name is a name search", [["parent_id", "=", "Acme Holding"]], ["Acme Berlin", "Acme Lyon"]],
    ["many2one ilike name", [["parent_id", "ilike", "holding"]], ["Acme Berlin", "Acme Lyon"]],
    [
      "child_of includes the record and its descendants",
      [["id", "child_of", "Acme Holding"]],
      ["Acme Berlin", "Acme Holding", "Acme Lyon"],
    ],
    ["inactive records need active_test off", [["name", "=", "Other Corp"]], []],
    [
      "mentioning active disables the implicit filter",
      [
        ["name", "=", "Other Corp"],
        ["active", "in", [true, false]],
      ],
      ["Other Corp"],
    ],
    ["TRUE_LEAF / FALSE_LEAF", ["|", [0, "=", 1], ["name", "=", "Acme Lyon"]], ["Acme Lyon"]],
  ];
  for (const [name, domain, expected] of cases) {
    test(`domain: ${name}`, async () => {
      assert.deepEqual(await names("res.partner", domain), expected);
    });
  }

  test("numeric and datetime comparisons, date-only values on datetime fields", async () => {
    const qtyBig = await names("mrp.production", [
      ["product_qty", ">=", 20],
      ["product_qty", "<", 1000],
    ]);
    assert.ok(qtyBig.length > 0);
    const all = (await client.call(auth, "mrp.production", "search_read", [[]], {
      fields: ["date_start", "name"],
    })) as {
      date_start: string;
      name: string;
    }[];
    const day = (all[0] as { date_start: string }).date_start.slice(0, 10);
    const sameDay = all
      .filter((r) => r.date_start.startsWith(day))
      .map((r) => r.name)
      .sort();
    assert.deepEqual(
      await names("mrp.production", [
        ["date_start", ">=", day],
        ["date_start", "<=", day],
      ]),
      sameDay,
    );
  });

  test("child_of and parent_of on stock.location use the hierarchy", async () => {
    const wh = await names("stock.location", [["id", "child_of", "WH"]], "complete_name");
    assert.deepEqual(wh, ["WH", "WH/Quarantine", "WH/Stock", "WH/Stock/Shelf 1", "WH/Stock/Shelf 2"]);
    const stock = sim.env.ref("stock.stock_location_stock");
    assert.deepEqual(await names("stock.location", [["id", "parent_of", [stock]]], "complete_name"), [
      "Physical Locations",
      "WH",
      "WH/Stock",
    ]);
    const [shelf] = await sim.env.search("stock.location", [["complete_name", "=", "WH/Stock/Shelf 1"]]);
    const products = await client.call(
      auth,
      "product.category",
      "search_read",
      [[["id", "child_of", "All"]]],
      { fields: ["complete_name"] },
    );
    assert.equal((products as unknown[]).length, 4);
    assert.ok(shelf);
  });

  test("dotted paths through many2one into another model: product_id.default_code", async () => {
    const rows = (await client.call(
      auth,
      "mrp.production",
      "search_read",
      [[["product_id.default_code", "=", "FIN-SB20"]]],
      {
        fields: ["product_id"],
      },
    )) as { product_id: [number, string] }[];
    assert.ok(rows.length >= 3);
    for (const r of rows) assert.equal(r.product_id[1], "[FIN-SB20] Sensor Bracket SB-20");
  });

  test("an unknown field or operator is a ValueError as Odoo words it", async () => {
    const bad = await client.executeKw(auth, "mrp.production", "search", [[["nope", "=", 1]]]);
    assert.equal(bad.error?.data["name"], "builtins.ValueError");
    assert.equal(bad.error?.data["message"], "Invalid field mrp.production.nope in leaf ('nope', '=', 1)");
    const badPath = await client.executeKw(auth, "mrp.production", "search", [[["product_id.nope", "=", 1]]]);
    assert.equal(
      badPath.error?.data["message"],
      "Invalid field product.product.nope in leaf ('product_id.nope', '=', 1)",
    );
    const op = await client.executeKw(auth, "res.partner", "search", [[["name", "~", "x"]]]);
    assert.equal(op.error?.data["message"], "Invalid operator '~' in domain term ('name', '~', 'x')");
  });
});

describe("odoo simulator - read, order, write_date", () => {
  let sim: OdooSimulator;
  let client: RawOdooClient;
  let auth: Auth;
  let clockMs = Date.parse("2025-03-01T10:00:00.250Z");

  before(async () => {
    sim = await startOdooSimulator({ profile: 18, seed: 5, clock: () => new Date(clockMs) });
    client = new RawOdooClient(sim.url);
    auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
  });
  after(() => sim.stop());

  test("many rows written in one call share one write_date; ordering by write_date, id pages without gaps", async () => {
    clockMs = Date.parse("2025-03-01T11:00:00.700Z");
    const ids = (await client.call(auth, "res.partner", "create", [
      Array.from({ length: 30 }, (_, i) => ({ name: `Bulk ${i}` })),
    ])) as number[];
    assert.equal(ids.length, 30);
    clockMs = Date.parse("2025-03-01T11:00:05.000Z");
    await client.call(auth, "res.partner", "write", [ids.slice(0, 10), { email: "bulk@x.test" }]);
    const rows = (await client.call(auth, "res.partner", "search_read", [[["id", "in", ids]]], {
      fields: ["write_date", "create_date"],
      order: "write_date asc, id asc",
    })) as { id: number; write_date: string; create_date: string }[];
    assert.deepEqual(new Set(rows.map((r) => r.create_date)), new Set(["2025-03-01 11:00:00"]));
    assert.deepEqual(
      rows.map((r) => r.write_date),
      [...Array(20).fill("2025-03-01 11:00:00"), ...Array(10).fill("2025-03-01 11:00:05")],
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      [...ids.slice(10), ...ids.slice(0, 10)],
    );
    const page = async (offset: number) =>
      (await client.call(auth, "res.partner", "search", [[["id", "in", ids]]], {
        order: "write_date asc, id asc",
        offset,
        limit: 7,
      })) as number[];
    const pages = [
      ...(await page(0)),
      ...(await page(7)),
      ...(await page(14)),
      ...(await page(21)),
      ...(await page(28)),
    ];
    assert.deepEqual(
      pages,
      rows.map((r) => r.id),
    );
    // The stored value keeps sub-seconds (PostgreSQL does): > the second read back still matches it.
    const sameSecond = (await client.call(auth, "res.partner", "search_count", [
      [
        ["id", "in", ids],
        ["write_date", ">", "2025-03-01 11:00:00"],
      ],
    ])) as number;
    assert.equal(sameSecond, 30);
    const exact = (await client.call(auth, "res.partner", "search_count", [
      [
        ["id", "in", ids],
        ["write_date", "=", "2025-03-01 11:00:05"],
      ],
    ])) as number;
    assert.equal(exact, 10);
  });

  test("order desc, offset and limit; an invalid order is a ValueError", async () => {
    const asc = (await client.call(auth, "mrp.production", "search", [[]], {
      order: "name asc",
    })) as number[];
    const desc = (await client.call(auth, "mrp.production", "search", [[]], {
      order: "name desc",
    })) as number[];
    assert.deepEqual(desc, [...asc].reverse());
    assert.deepEqual(
      await client.call(auth, "mrp.production", "search", [[]], { order: "name asc", offset: 2, limit: 3 }),
      asc.slice(2, 5),
    );
    const bad = await client.executeKw(auth, "mrp.production", "search", [[]], { order: "name; drop table" });
    assert.equal(bad.error?.data["name"], "builtins.ValueError");
    assert.match(String(bad.error?.data["message"]), /^Invalid "order" specified/);
  });

  test("read formats many2one as [id, name], x2many as ids, empty values as false, datetimes naive UTC", async () => {
    const [mo] = (await client.call(auth, "mrp.production", "search_read", [[["state", "=", "draft"]]], {
      fields: [
        "product_id",
        "move_raw_ids",
        "origin",
        "lot_producing_id",
        "date_start",
        "date_deadline",
        "qty_producing",
      ],
      limit: 1,
    })) as Record<string, unknown>[];
    assert.ok(mo);
    assert.ok(Array.isArray(mo["product_id"]) && typeof (mo["product_id"] as unknown[])[0] === "number");
    assert.ok(
      Array.isArray(mo["move_raw_ids"]) &&
        (mo["move_raw_ids"] as unknown[]).every((x) => typeof x === "number"),
    );
    assert.equal(mo["lot_producing_id"], false);
    assert.equal(mo["date_deadline"], false);
    assert.equal(mo["qty_producing"], 0);
    assert.match(String(mo["date_start"]), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const raw = (await client.call(auth, "mrp.production", "read", [[mo["id"]], ["product_id"]], {
      load: null,
    })) as Record<string, unknown>[];
    assert.equal(typeof raw[0]?.["product_id"], "number");
    const unknown = await client.executeKw(auth, "mrp.production", "read", [[mo["id"]], ["nope"]]);
    assert.equal(unknown.error?.data["message"], "Invalid field 'nope' on model 'mrp.production'");
  });

  test("create takes a dict (returns an id) or a list (returns ids); writes reject bad values as Odoo", async () => {
    const one = await client.call(auth, "res.partner", "create", [{ name: "Single" }]);
    assert.equal(typeof one, "number");
    const many = await client.call(auth, "res.partner", "create", [[{ name: "L1" }, { name: "L2" }]]);
    assert.ok(Array.isArray(many) && many.length === 2);
    const dt = await client.executeKw(auth, "mrp.production", "write", [
      [1],
      { date_deadline: "2025-03-01T10:00:00Z" },
    ]);
    assert.equal(
      dt.error?.data["message"],
      "time data '2025-03-01T10:00:00Z' does not match format '%Y-%m-%d %H:%M:%S'",
    );
    const sel = await client.executeKw(auth, "mrp.production", "write", [[1], { priority: "9" }]);
    assert.equal(sel.error?.data["message"], "Wrong value for mrp.production.priority: '9'");
    const required = await client.executeKw(auth, "mrp.production", "create", [{ product_qty: 1 }]);
    assert.equal(required.error?.data["name"], "odoo.exceptions.ValidationError");
    assert.equal(
      required.error?.data["message"],
      "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Production Order (mrp.production)\nField: Product (product_id)\n",
    );
    const badKw = await client.executeKw(auth, "res.partner", "search", [[]], { limitt: 1 });
    assert.equal(badKw.error?.data["name"], "builtins.TypeError");
    assert.equal(badKw.error?.data["message"], "search() got an unexpected keyword argument 'limitt'");
  });

  test("the simulator starts without any custom field or model", async () => {
    const manual = (await client.call(auth, "ir.model.fields", "search_count", [
      [["state", "=", "manual"]],
    ])) as number;
    assert.equal(manual, 0);
    const models = (await client.call(auth, "ir.model", "search_count", [
      [["model", "=like", "x\\_%"]],
    ])) as number;
    assert.equal(models, 0);
    const unknown = await client.executeKw(auth, "stock.picking", "search", [
      [["x_threadline_event_id", "=", "x"]],
    ]);
    assert.equal(unknown.error?.data["name"], "builtins.ValueError");
  });

  test("the restricted user (Inventory / User) reads but cannot modify manufacturing orders", async () => {
    const r = { db: sim.db, uid: sim.restricted.uid, password: sim.restricted.password };
    assert.ok(((await client.call(r, "mrp.production", "search", [[]])) as number[]).length > 0);
    const denied = await client.executeKw(r, "mrp.production", "write", [[1], { origin: "x" }]);
    assert.equal(denied.error?.data["name"], "odoo.exceptions.AccessError");
    assert.match(
      String(denied.error?.data["message"]),
      /^You are not allowed to modify 'Production Order' \(mrp.production\) records\./,
    );
  });
});

test("datetimes compare with their stored sub-seconds up to 18, to the whole second from 19", async () => {
  for (const profile of [17, 19] as const) {
    const sim = await startOdooSimulator({ profile, clock: () => new Date("2025-05-01T08:00:00.600Z") });
    try {
      const client = new RawOdooClient(sim.url);
      const auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
      const id = await client.call(auth, "res.partner", "create", [{ name: "Subsecond" }]);
      const [row] = (await client.call(auth, "res.partner", "read", [[id], ["write_date"]])) as {
        write_date: string;
      }[];
      assert.equal(row?.write_date, "2025-05-01 08:00:00");
      const after = await client.call(auth, "res.partner", "search", [
        [
          ["id", "=", id],
          ["write_date", ">", row?.write_date],
        ],
      ]);
      const equal = await client.call(auth, "res.partner", "search", [
        [
          ["id", "=", id],
          ["write_date", "=", row?.write_date],
        ],
      ]);
      assert.deepEqual([after, equal], profile >= 19 ? [[], [id]] : [[id], []]);
    } finally {
      await sim.stop();
    }
  }
});

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - version differences`, () => {
    let sim: OdooSimulator;
    let client: RawOdooClient;
    let auth: Auth;
    before(async () => {
      sim = await startOdooSimulator({ profile, seed: 9 });
      client = new RawOdooClient(sim.url);
      auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
    });
    after(() => sim.stop());

    test("field names of the version exist, the others are Invalid field", async () => {
      const has = async (model: string, field: string) => {
        const r = (await client.call(auth, model, "fields_get", [[field]], {
          attributes: ["type"],
        })) as Record<string, unknown>;
        return field in r;
      };
      const expect: [string, string, boolean][] = [
        ["mrp.production", "date_planned_start", profile === 16],
        ["mrp.production", "date_start", true],
        ["mrp.production", "lot_producing_id", profile <= 18],
        ["mrp.production", "lot_producing_ids", profile >= 19],
        ["mrp.production", "workcenter_id", profile >= 17],
        ["stock.move.line", "qty_done", profile === 16],
        ["stock.move.line", "quantity", profile >= 17],
        ["stock.move.line", "picked", profile >= 17],
        ["stock.move", "quantity_done", profile === 16],
        ["stock.move", "name", profile <= 18],
        ["product.template", "detailed_type", profile <= 17],
        ["product.template", "is_storable", profile >= 18],
        ["uom.uom", "category_id", profile <= 18],
      ];
      for (const [model, field, present] of expect)
        assert.equal(await has(model, field), present, `${model}.${field} on ${profile}`);
      assert.deepEqual((await client.call(auth, "stock.lot", "search_count", [[]])) !== undefined, true);
      const oldLot = await client.executeKw(auth, "stock.production.lot", "search", [[]]);
      assert.equal(oldLot.error?.data["message"], "Object stock.production.lot doesn't exist");
    });

    test("name_get exists up to 17; search takes args (16) or domain (17+) by keyword", async () => {
      const ng = await client.executeKw(auth, "res.partner", "name_get", [[1]]);
      if (profile <= 17) assert.deepEqual(ng.result, [[1, "YourCompany"]]);
      else {
        assert.equal(ng.error?.data["name"], "builtins.AttributeError");
        assert.equal(ng.error?.data["message"], "The method 'res.partner.name_get' does not exist");
      }
      const kw = profile === 16 ? "args" : "domain";
      const byKw = await client.executeKw(auth, "res.partner", "search", [], { [kw]: [["id", "=", 1]] });
      assert.deepEqual(byKw.result, [1]);
      const other = await client.executeKw(auth, "res.partner", "search", [], {
        [profile === 16 ? "domain" : "args"]: [],
      });
      assert.equal(other.error?.data["name"], "builtins.TypeError");
      const workorderStates = (await client.call(auth, "mrp.workorder", "fields_get", [["state"]], {
        attributes: ["selection"],
      })) as {
        state: { selection: [string, string][] };
      };
      const keys = workorderStates.state.selection.map(([k]) => k);
      assert.equal(keys.includes("blocked"), profile >= 19);
      assert.equal(keys.includes("pending"), profile <= 18);
    });
  });
}

test("a search on a many2one or char field sees every create, write and delete, and nothing of a rolled-back call", async () => {
  // Such searches read an index of the column (as PostgreSQL's would): it must never be stale.
  const sim = await startOdooSimulator({ profile: 17, seed: 5 });
  after(() => sim.stop());
  const client = new RawOdooClient(sim.url);
  const auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
  const create = async (vals: Record<string, unknown>) =>
    (await client.call(auth, "res.partner", "create", [vals])) as number;
  const ids = async (domain: unknown[]) =>
    (await client.call(auth, "res.partner", "search", [domain], { order: "id" })) as number[];

  const a = await create({ name: "A", is_company: true });
  const b = await create({ name: "B", is_company: true });
  const c1 = await create({ name: "c1", parent_id: a, ref: "R1" });
  const c2 = await create({ name: "c2", parent_id: a, ref: "R2" });
  assert.deepEqual(await ids([["parent_id", "=", a]]), [c1, c2]);
  assert.deepEqual(await ids([["ref", "in", ["R1", "R2"]]]), [c1, c2]);

  await client.call(auth, "res.partner", "write", [[c2], { parent_id: b, ref: "R3" }]);
  assert.deepEqual(await ids([["parent_id", "=", a]]), [c1]);
  assert.deepEqual(await ids([["parent_id", "in", [a, b]]]), [c1, c2]);
  assert.deepEqual(await ids([["ref", "=", "R2"]]), []);
  assert.deepEqual(await ids(["&", ["ref", "=", "R3"], ["name", "=", "c2"]]), [c2]);

  await client.call(auth, "res.partner", "unlink", [[c1]]);
  assert.deepEqual(await ids([["parent_id", "=", a]]), []);

  // The first record is created, the second is refused: the call rolls back as a whole.
  const failed = await client.executeKw(auth, "res.partner", "create", [
    [
      { name: "c3", parent_id: a, ref: "R1" },
      { name: "c4", no_such_field: 1 },
    ],
  ]);
  assert.equal(failed.error?.data["name"], "builtins.ValueError");
  assert.deepEqual(await ids([["parent_id", "=", a]]), []);
  assert.deepEqual(await ids([["ref", "=", "R1"]]), []);
  assert.deepEqual(await ids([["parent_id", "=", b]]), [c2]);
});
