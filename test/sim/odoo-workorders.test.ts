/**
 * Specification: work orders and time logs (`mrp.workcenter.productivity`), downtime and blocked work
 * centres (research note A §5, B §8). The clock is driven by the test.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { m2o, openSim, type Row, type Session, type SimFixture, specProduct } from "./odoo-helpers.js";

// Monday 2 June 2025
let now = new Date("2025-06-02T10:00:00Z");
const at = (iso: string) => {
  now = new Date(`${iso}Z`);
};

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - work orders and time logs`, () => {
    let fx: SimFixture;
    let mrp: Session;
    let fill: number;
    const ref = (x: string) => fx.sim.env.ref(x);
    const logs = (domain: unknown[]) =>
      mrp.call<Row[]>("mrp.workcenter.productivity", "search_read", [domain], {
        fields: ["duration", "date_start", "date_end", "loss_type", "workorder_id", "workcenter_id"],
        order: "id",
      });
    const firstWo = async (mo: number) =>
      ((await mrp.read("mrp.production", mo, ["workorder_ids"]))["workorder_ids"] as number[])[0] as number;

    before(async () => {
      at("2025-06-02T10:00:00");
      fx = await openSim(profile, { clock: () => now });
      mrp = fx.integration;
      fill = ref("threadline.workcenter_l1_fill");
      await specProduct(fx.admin, "SPEC-WO", { lines: [["COMP-ALU", 1]], ops: [["L1-FILL", 1]] });
    });
    after(() => fx.sim.stop());

    test("the seeded loss reasons: Odoo's xml ids (block_reason0–2, 4–7), categories and the 'manual' flag", async () => {
      const reasons = await mrp.readMany(
        "mrp.workcenter.productivity.loss",
        [0, 1, 2, 4, 5, 6, 7].map((n) => ref(`mrp.block_reason${n}`)),
        ["name", "loss_type", "manual"],
      );
      assert.deepEqual(
        reasons.map((r) => [r["name"], r["loss_type"], r["manual"]]),
        [
          ["Material Availability", "availability", true],
          ["Equipment Failure", "availability", true],
          ["Setup and Adjustments", "availability", true],
          ["Reduced Speed", "performance", false],
          ["Process Defect", "quality", true],
          ["Reduced Yield", "quality", true],
          ["Fully Productive Time", "productive", false],
        ],
      );
    });

    test("time_ids takes (0, 0, {…}) commands; durations are minutes from the dates; the work order's duration is their sum", async () => {
      const mo = await mrp.newMo("SPEC-WO", 10);
      const wo = await firstWo(mo);
      await mrp.call("mrp.workorder", "write", [
        [wo],
        {
          time_ids: [
            [
              0,
              0,
              {
                workcenter_id: fill,
                loss_id: ref("mrp.block_reason7"),
                date_start: "2025-06-02 08:00:00",
                date_end: "2025-06-02 08:45:30",
              },
            ],
            [
              0,
              0,
              {
                workcenter_id: fill,
                loss_id: ref("mrp.block_reason4"),
                date_start: "2025-06-02 09:00:00",
                date_end: "2025-06-02 09:10:00",
              },
            ],
          ],
        },
      ]);
      const rows = await logs([["workorder_id", "=", wo]]);
      assert.deepEqual(
        rows.map((r) => [r["duration"], r["loss_type"]]),
        [
          [45.5, "productive"],
          [10, "performance"],
        ],
      );
      assert.equal((await mrp.read("mrp.workorder", wo, ["duration"]))["duration"], 55.5);
    });

    test("an open log has no duration yet (19: the work order's duration counts open timers up to now)", async () => {
      at("2025-06-02T10:00:00");
      const mo = await mrp.newMo("SPEC-WO", 10);
      const wo = await firstWo(mo);
      await mrp.call("mrp.workorder", "write", [
        [wo],
        {
          time_ids: [
            [
              0,
              0,
              { workcenter_id: fill, loss_id: ref("mrp.block_reason7"), date_start: "2025-06-02 09:30:00" },
            ],
          ],
        },
      ]);
      const [log] = await logs([["workorder_id", "=", wo]]);
      assert.deepEqual([log?.["duration"], log?.["date_end"]], [0, false]);
      assert.equal((await mrp.read("mrp.workorder", wo, ["duration"]))["duration"], profile >= 19 ? 30 : 0);
      // closing it (`_close`): past the 10 expected minutes the time is a performance loss
      await mrp.call("mrp.workorder", "button_pending", [[wo]]);
      const closed = await logs([["workorder_id", "=", wo]]);
      assert.deepEqual(
        closed.map((r) => [r["loss_type"], r["date_start"], r["date_end"], r["duration"]]),
        [
          ["productive", "2025-06-02 09:30:00", "2025-06-02 09:40:00", 10],
          ["performance", "2025-06-02 09:40:00", "2025-06-02 10:00:00", 20],
        ],
      );
    });

    test("downtime: a log without work order is accepted, non-productive losses count working hours only, overlaps are not refused", async () => {
      // Monday 11:00–14:00: the calendar works 11–12 and 13–14
      const vals = {
        workcenter_id: fill,
        loss_id: ref("mrp.block_reason1"),
        date_start: "2025-06-02 11:00:00",
        date_end: "2025-06-02 14:00:00",
      };
      const ids = [
        await mrp.call<number>("mrp.workcenter.productivity", "create", [vals]),
        await mrp.call<number>("mrp.workcenter.productivity", "create", [vals]),
        await mrp.call<number>("mrp.workcenter.productivity", "create", [
          { ...vals, loss_id: ref("mrp.block_reason7") },
        ]),
      ];
      const rows = await mrp.readMany("mrp.workcenter.productivity", ids, [
        "duration",
        "workorder_id",
        "company_id",
        "user_id",
      ]);
      assert.deepEqual(
        rows.map((r) => [r["duration"], r["workorder_id"]]),
        [
          [120, false],
          [120, false],
          [180, false],
        ],
      );
      assert.equal(m2o(rows[0]?.["company_id"]), ref("base.main_company"));
      assert.equal(m2o(rows[0]?.["user_id"]), fx.sim.users.integration.uid);
    });

    test("workcenter_id and loss_id are required", async () => {
      await mrp.fails(
        "mrp.workcenter.productivity",
        "create",
        [{ workcenter_id: fill, date_start: "2025-06-02 08:00:00" }],
        "odoo.exceptions.ValidationError",
        /Model: Workcenter Productivity Log \(mrp\.workcenter\.productivity\)\nField: Loss Reason \(loss_id\)/,
      );
      await mrp.fails(
        "mrp.workcenter.productivity",
        "create",
        [{ loss_id: ref("mrp.block_reason7") }],
        "odoo.exceptions.ValidationError",
        /Field: Work Center \(workcenter_id\)/,
      );
    });

    test(
      profile >= 17
        ? `${profile}: an open availability log blocks the work centre, and button_start refuses until it is unblocked`
        : "16: an open availability log blocks the work centre, but button_start does not check it",
      async () => {
        at("2025-06-02T12:30:00");
        const cap = ref("threadline.workcenter_l1_cap");
        await specProduct(fx.admin, `SPEC-CAP-${profile}`, {
          lines: [["COMP-ALU", 1]],
          ops: [["L1-CAP", 1]],
        });
        const mo = await mrp.newMo(`SPEC-CAP-${profile}`, 5);
        const wo = await firstWo(mo);
        await mrp.call("mrp.workcenter.productivity", "create", [
          { workcenter_id: cap, loss_id: ref("mrp.block_reason1") },
        ]);
        assert.equal((await mrp.read("mrp.workcenter", cap, ["working_state"]))["working_state"], "blocked");
        if (profile === 16) {
          assert.equal(await mrp.call("mrp.workorder", "button_start", [[wo]]), true);
          return;
        }
        await mrp.fails(
          "mrp.workorder",
          "button_start",
          [[wo]],
          "odoo.exceptions.UserError",
          "Please unblock the work center to start the work order.",
        );
        await mrp.call("mrp.workorder", "button_unblock", [[wo]]);
        assert.equal((await mrp.read("mrp.workcenter", cap, ["working_state"]))["working_state"], "normal");
        await mrp.call("mrp.workorder", "button_start", [[wo]]);
        assert.equal((await mrp.read("mrp.workorder", wo, ["state"]))["state"], "progress");
      },
    );

    test("button_start: qty_producing set to what remains (components follow), a productive timer; button_finish closes it, the time past the expected duration is performance", async () => {
      at("2025-06-02T08:00:00");
      const mo = await mrp.newMo("SPEC-WO", 10); // expected: 10 minutes
      const wo = await firstWo(mo);
      await mrp.call("mrp.workorder", "button_start", [[wo]]);
      const row = await mrp.read("mrp.production", mo, ["qty_producing", "state"]);
      assert.deepEqual([row["qty_producing"], row["state"]], [10, "progress"]);
      const alu = (await mrp.components(mo)).get("COMP-ALU") as Row;
      assert.equal(alu["quantity"], 10);
      if (profile >= 17) assert.equal(alu["picked"], true);
      await mrp.fails(
        "mrp.workorder",
        "write",
        [[wo], { time_ids: [[0, 0, { workcenter_id: fill, loss_id: ref("mrp.block_reason7") }]] }],
        "odoo.exceptions.ValidationError",
        /^The Workorder \(.*\) cannot be started twice!$/,
      );
      at("2025-06-02T08:25:00");
      assert.equal(await mrp.call("mrp.workorder", "button_finish", [[wo]]), true);
      const rows = await logs([["workorder_id", "=", wo]]);
      assert.deepEqual(
        rows.map((r) => [r["loss_type"], r["date_start"], r["date_end"], r["duration"]]),
        [
          ["productive", "2025-06-02 08:00:00", "2025-06-02 08:10:00", 10],
          ["performance", "2025-06-02 08:10:00", "2025-06-02 08:25:00", 15],
        ],
      );
      const w = await mrp.read("mrp.workorder", wo, ["state", "duration", "qty_produced"]);
      assert.deepEqual([w["state"], w["duration"], w["qty_produced"]], ["done", 25, 10]);
    });

    test("writing duration on a work order creates a log ending now (its inverse)", async () => {
      at("2025-06-02T15:00:00");
      const mo = await mrp.newMo("SPEC-WO", 10);
      const wo = await firstWo(mo);
      await mrp.call("mrp.workorder", "write", [[wo], { duration: 6 }]);
      const [log] = await logs([["workorder_id", "=", wo]]);
      assert.deepEqual(
        [log?.["date_start"], log?.["date_end"], log?.["duration"], log?.["loss_type"]],
        ["2025-06-02 14:54:00", "2025-06-02 15:00:00", 6, "productive"],
      );
    });

    if (profile >= 18)
      test(`${profile}: starting a done work order is refused`, async () => {
        const mo = await mrp.newMo("SPEC-WO", 1);
        const wo = await firstWo(mo);
        await mrp.call("mrp.workorder", "button_finish", [[wo]]);
        await mrp.fails(
          "mrp.workorder",
          "button_start",
          [[wo]],
          "odoo.exceptions.UserError",
          "You cannot start a work order that is already done or cancelled",
        );
      });
  });
}
