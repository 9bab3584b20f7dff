/**
 * threadline quality inspect|holds|hold|release|reconcile|token - the real CLI against the real quality
 * service (harness/quality.ts: a nats-server, the genealogy's routes over the story RAW-1 LOT/2026/001 →
 * INT-1 INT-001 → FG-1 FG-001, users lab, alice and viewer), as a lab and a quality engineer use it:
 * what they read, the exit codes of a refusal, a usage error, an unknown hold and a service that is not
 * there; a user's token made and accepted; the reconciliation with deliveries and with the Odoo
 * simulator's quality alerts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { holdTitle } from "../../services/odoo-connector/src/outbound/quality.js";
import { threadline } from "../harness/cli.js";
import { storedEvents } from "../harness/events.js";
import {
  deliveryPosted,
  type QualityFixture,
  SITE,
  shipmentRequested,
  startQualityFixture,
  USERS,
} from "../harness/quality.js";
import { until } from "../harness/wait.js";
import { startOdoo } from "../odoo-connector/fixture.js";

/** No Odoo settings reach the CLI unless a test gives them. */
const NO_ODOO = { ODOO_URL: "", ODOO_DB: "", ODOO_LOGIN: "", ODOO_API_KEY: "" };

/** `threadline quality …` as `user`, against the fixture's service. */
function quality(
  f: QualityFixture,
  user: keyof typeof USERS,
  args: string[],
  env: Record<string, string> = {},
) {
  return threadline(["quality", ...args], {
    env: { ...NO_ODOO, QUALITY_URL: f.service().url, QUALITY_TOKEN: USERS[user].token, ...env },
  });
}

const HOLD_ID = /H-[0-9a-f]{20}/;
const holdIdIn = (text: string) => HOLD_ID.exec(text)?.[0] ?? assert.fail(`no hold id in: ${text}`);

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const _FG = { code: "FG-1", name: "Brake disc", odooId: 31n };
const _units = (value: string) => ({ value, uom: "Units" });
const inspect = (values: string, extra: string[] = []) => [
  "inspect",
  "--site",
  SITE,
  "--lot",
  "FG-001",
  "--product",
  "FG-1",
  "--characteristic",
  "bore",
  "--values",
  values,
  ...extra,
];

test("threadline quality inspect - a lab records measurements; out of spec is named; bad input and refusals exit 2 and 1", async (t) => {
  const f = await startQualityFixture(t);

  await t.test("within specification: the event id and PASS", async () => {
    const r = await quality(f, "lab", inspect("12.01,11.99"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^recorded INS-\S+ of lot FG-001 \(FG-1\) bore: PASS \(event \S+\)$/m);
    assert.doesNotMatch(r.stdout, /out of specification/);
    const [stored] = await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE);
    assert.ok(stored && r.stdout.includes(`(event ${stored.id})`), "the id printed is the event's");
    assert.equal(stored?.value.inspectedBy, "lab");
    assert.ok(!r.stdout.includes(USERS.lab.token) && !r.stderr.includes(USERS.lab.token));
  });

  await t.test(
    "out of specification: FAIL, the values outside the limits, the nonconformance raised",
    async () => {
      const r = await quality(f, "lab", inspect("12.01,12.2,11.9", ["--unit", "mm"]));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /bore: FAIL/);
      assert.match(r.stdout, /^out of specification \(2\): 12\.2, 11\.9$/m);
      assert.match(r.stdout, /a nonconformance is raised/);
      const json = await quality(f, "lab", inspect("12.3", ["--json"]));
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout).outOfSpec, [12.3]);
    },
  );

  await t.test("a malformed --values is a usage error naming the value; nothing is recorded", async () => {
    const before = (await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE)).length;
    const r = await quality(f, "lab", inspect("12.01,12,o1"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--values: "o1" \(value 3\) is not a number/);
    const limits = await quality(f, "lab", inspect("12.01", ["--lsl", "12.1", "--usl", "12"]));
    assert.equal(limits.code, 2);
    assert.match(limits.stderr, /--lsl 12\.1 must be below --usl 12/);
    assert.equal((await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE)).length, before);
  });

  await t.test(
    "a characteristic nothing can judge, and a viewer recording: exit 1 with the service's reason",
    async () => {
      const unknown = await quality(f, "lab", [
        ...inspect("3.2").map((a) => (a === "bore" ? "roughness" : a)),
      ]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /roughness of product FG-1 is not charted.*give --lsl\/--usl or --result/);
      const viewer = await quality(f, "viewer", inspect("12.0"));
      assert.equal(viewer.code, 1);
      assert.match(viewer.stderr, /refused: viewer may not do this: it needs the role inspect/);
    },
  );

  await t.test(
    "token: a new user's token, shown once, and its users-file entry the service accepts",
    async () => {
      const bad = await threadline(["quality", "token", "--name", "lims-2", "--roles", "inspect,approve"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--roles: "approve" is not a role \(read, inspect, hold, release\)/);

      const r = await threadline(["quality", "token", "--name", "lims-2", "--roles", "inspect", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const { token, entry } = JSON.parse(r.stdout) as { token: string; entry: { tokenSha256: string } };
      assert.ok(token.length >= 40);
      assert.equal(entry.tokenSha256, createHash("sha256").update(token).digest("hex"));
      const text = await threadline(["quality", "token", "--name", "lims-2", "--roles", "inspect"]);
      assert.match(text.stdout, /shown once/);
      assert.match(text.stdout, /^\{"name":"lims-2","tokenSha256":"[0-9a-f]{64}","roles":\["inspect"\]\}$/m);

      const dir = mkdtempSync(join(tmpdir(), "threadline-quality-cli-"));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const usersFile = join(dir, "users.json");
      writeFileSync(usersFile, JSON.stringify({ users: [entry] }));
      await f.restart({ QUALITY_USERS_FILE: usersFile });
      const tokenFile = join(dir, "token");
      writeFileSync(tokenFile, `${token}\n`);
      const recorded = await quality(f, "lab", [...inspect("12.0"), "--token-file", tokenFile]);
      assert.equal(recorded.code, 0, recorded.stderr);
      const mine = (await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE)).filter((e) =>
        recorded.stdout.includes(e.id),
      );
      assert.equal(mine[0]?.value.inspectedBy, "lims-2");
      assert.ok(!recorded.stdout.includes(token) && !recorded.stderr.includes(token));
    },
  );
});

test("threadline quality hold|holds|release - a quality engineer holds a lot, a viewer cannot release it, the engineer releases it with a comment", async (t) => {
  const f = await startQualityFixture(t);
  let holdId = "";

  await t.test("hold, then holds: the hold's id, lot, product, status, who placed it and why", async () => {
    const placed = await quality(f, "alice", [
      "hold",
      "--site",
      SITE,
      "--lot",
      "FG-001",
      "--product",
      "FG-1",
      "--reason",
      "burr on the hub",
      "--no-forward",
    ]);
    assert.equal(placed.code, 0, placed.stderr);
    assert.match(placed.stdout, /^placed 1 hold:$/m);
    holdId = holdIdIn(placed.stdout);

    const list = await quality(f, "viewer", ["holds"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^HOLD\s+LOT\s+PRODUCT\s+STATUS\s+PLACED AT\s+PLACED BY\s+REASON$/m);
    assert.match(
      list.stdout,
      new RegExp(`^${holdId}\\s+FG-001\\s+FG-1\\s+ACTIVE\\s+\\S+ \\S+\\s+alice\\s+burr on the hub$`, "m"),
    );
    const other = await quality(f, "viewer", ["holds", "--lot", "INT-001"]);
    assert.equal(other.stdout, "no active holds\n");
  });

  await t.test("release by a viewer: refused, exit 1 naming the role; the hold stays active", async () => {
    const r = await quality(f, "viewer", ["release", holdId, "--comment", "looks fine to me"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused: viewer may not do this: it needs the role release/);
    const list = await quality(f, "viewer", ["holds", "--json"]);
    assert.deepEqual(
      JSON.parse(list.stdout).map((h: { holdId: string; status: string }) => [h.holdId, h.status]),
      [[holdId, "ACTIVE"]],
    );
  });

  await t.test(
    "release without --comment, or with one too short to say why: usage errors (exit 2)",
    async () => {
      const none = await quality(f, "alice", ["release", holdId]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /--comment is required: say why hold H-\S+ is released/);
      const short = await quality(f, "alice", ["release", holdId, "--comment", "ok"]);
      assert.equal(short.code, 2);
      assert.match(short.stderr, /--comment: must say why, in at least 3 characters/);
      const disposition = await quality(f, "alice", [
        "release",
        holdId,
        "--comment",
        "fine",
        "--disposition",
        "keep",
      ]);
      assert.equal(disposition.code, 2);
    },
  );

  await t.test(
    "release by alice with a comment: released, no active hold left, the decision listed",
    async () => {
      const r = await quality(f, "alice", [
        "release",
        holdId,
        "--comment",
        "burr removed, 20 parts re-measured",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        `hold ${holdId} on lot FG-001 (FG-1) released by alice: burr removed, 20 parts re-measured\n`,
      );
      assert.equal((await quality(f, "viewer", ["holds"])).stdout, "no active holds\n");
      const released = await quality(f, "viewer", ["holds", "--status", "released"]);
      assert.match(
        released.stdout,
        new RegExp(`^${holdId}\\s+FG-001.*RELEASED.*released by alice: burr removed`, "m"),
      );
      const again = await quality(f, "alice", ["release", holdId, "--comment", "once more"]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`hold ${holdId} was already released by alice`));
    },
  );

  await t.test(
    "an unknown hold, a wrong token, a service that is not there: exit 1, saying which",
    async () => {
      const unknown = await quality(f, "alice", [
        "release",
        "H-00000000000000000000",
        "--comment",
        "no such hold",
      ]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no hold H-00000000000000000000 in the quality service/);

      const wrong = await quality(f, "alice", ["holds"], { QUALITY_TOKEN: "not-a-token-of-anyone" });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /refused the token .*check \$QUALITY_TOKEN or --token-file/);
      assert.ok(!wrong.stderr.includes("not-a-token-of-anyone"));

      const url = `http://127.0.0.1:${await closedPort()}`;
      const away = await quality(f, "viewer", ["holds", "--url", url]);
      assert.equal(away.code, 1);
      assert.match(away.stderr, new RegExp(`cannot reach the quality service at ${url} .*is it running\\?`));

      const noToken = await threadline(["quality", "holds"], {
        env: { QUALITY_URL: url, QUALITY_TOKEN: "" },
      });
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /set \$QUALITY_TOKEN or pass --token-file/);
    },
  );

  await t.test(
    "hold while the genealogy is down: the lot itself is held, exit 1 saying its scope was not followed",
    async () => {
      f.genealogyDown = true;
      const r = await quality(f, "alice", [
        "hold",
        "--site",
        SITE,
        "--lot",
        "INT-001",
        "--product",
        "INT-1",
        "--reason",
        "cracked compacts",
        "--forward",
      ]);
      f.genealogyDown = false;
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^placed 1 hold:$/m);
      assert.match(r.stdout, /^H-\S+\s+INT-001\s+INT-1\s+ACTIVE/m);
      assert.match(
        r.stderr,
        /lot INT-001 is on hold, but the lots made of it or it was made of could not be followed/,
      );
    },
  );

  await t.test("hold --forward: the lot and every lot made of it", async () => {
    const r = await quality(f, "alice", [
      "hold",
      "--site",
      SITE,
      "--lot",
      "LOT/2026/001",
      "--product",
      "RAW-1",
      "--reason",
      "supplier recall SUP-77",
      "--forward",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^placed 3 holds:$/m);
    for (const lot of ["LOT/2026/001", "INT-001", "FG-001"])
      assert.match(r.stdout, new RegExp(`^H-\\S+\\s+${lot}\\s.*ACTIVE.*supplier recall SUP-77`, "m"));
  });
});

test("threadline quality reconcile - holds without their Odoo quality alert, then a held lot delivered: exit 1 while anything is listed", async (t) => {
  const f = await startQualityFixture(t);
  const sim = await startOdoo(t, { profile: 18 }, { threadline: false });
  const odooEnv = {
    ODOO_URL: sim.url,
    ODOO_DB: sim.db,
    // A user of Quality / User (the integration user of the simulator is Manufacturing / User only).
    ODOO_LOGIN: sim.credentials.login,
    ODOO_API_KEY: sim.credentials.apiKey,
  };
  const place = async (lot: string, product: string, reason: string) => {
    const r = await f.api("POST", "/quality/holds", "alice", {
      site: SITE,
      lot,
      product,
      reason,
      scope: { forward: false },
    });
    assert.equal(r.status, 201);
    return r.body.holds[0].holdId as string;
  };
  const active = await place("FG-001", "FG-1", "burr on the hub");
  const rejected = await place("INT-001", "INT-1", "cracked compacts");
  const released = await place("LOT/2026/001", "RAW-1", "moisture");
  assert.equal(
    (
      await f.api("POST", `/quality/holds/${rejected}/decision`, "alice", {
        disposition: "scrap",
        comment: "cracks",
      })
    ).status,
    200,
  );
  assert.equal(
    (
      await f.api("POST", `/quality/holds/${released}/decision`, "alice", {
        disposition: "release",
        comment: "dry",
      })
    ).status,
    200,
  );
  // The connector posted the active hold's alert; the rejected one's never reached Odoo.
  await sim.env.create("quality.alert", { title: holdTitle(active) });

  await t.test(
    "the rejected hold without its alert is listed; the released one is not looked for",
    async () => {
      const r = await quality(f, "viewer", ["reconcile", "--grace", "0s"], odooEnv);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^escapes: none/m);
      assert.match(r.stdout, /^holds without their quality alert in Odoo \(1\):$/m);
      assert.match(r.stdout, new RegExp(`^${rejected}\\s+INT-001\\s+INT-1\\s+REJECTED`, "m"));
      assert.ok(!r.stdout.includes(active) && !r.stdout.includes(released));
      assert.ok(!r.stdout.includes(odooEnv.ODOO_API_KEY) && !r.stderr.includes(odooEnv.ODOO_API_KEY));

      const json = await quality(f, "viewer", ["reconcile", "--grace", "0s", "--json"], odooEnv);
      assert.equal(json.code, 1);
      const report = JSON.parse(json.stdout);
      assert.deepEqual(
        report.odoo.missingAlerts.map((h: { holdId: string }) => h.holdId),
        [rejected],
      );
      assert.equal(report.reconciled, false);
    },
  );

  await t.test(
    "an Odoo user who may not read quality alerts: exit 1, saying which group it needs",
    async () => {
      const r = await quality(f, "viewer", ["reconcile", "--grace", "0s"], {
        ...odooEnv,
        ODOO_LOGIN: sim.users.integration.login,
        ODOO_API_KEY: sim.users.integration.apiKey,
      });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `the Odoo check failed: .* as ${sim.users.integration.login} cannot list quality alerts \\(the user needs Quality / User\\)`,
        ),
      );
    },
  );

  await t.test("holds placed within the grace period are not looked for yet", async () => {
    const r = await quality(f, "viewer", ["reconcile"], odooEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^reconciled$/m);
  });

  await t.test("once Odoo has every alert: reconciled, exit 0", async () => {
    await sim.env.create("quality.alert", { title: holdTitle(rejected) });
    const r = await quality(f, "viewer", ["reconcile", "--grace", "0s"], odooEnv);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Odoo: every hold has its quality alert \(2 active or rejected checked\)$/m);
    assert.match(r.stdout, /^reconciled$/m);
  });

  await t.test(
    "a held lot delivered anyway: the escape is listed (exit 1); without Odoo settings the Odoo check is said skipped",
    async () => {
      await f.publish(
        "mfg.shipping.shipment_requested.v1",
        shipmentRequested("WH/OUT/00005", 505n, "FG-001"),
        {
          key: "WH/OUT/00005",
        },
      );
      await until("the delivery blocked", async () =>
        (await storedEvents(f.nc, "mfg.shipping.shipment_blocked.v1", SITE)).length > 0 ? true : undefined,
      );
      // Someone validates it in Odoo anyway.
      await f.publish(
        "mfg.inventory.goods_movement_posted.v1",
        deliveryPosted("WH/OUT/00005", 505n, "FG-001"),
        {
          key: "FG-001",
        },
      );
      await until("the escape", async () =>
        (await f.api("GET", "/quality/reconcile", "viewer")).body.escapes.length > 0 ? true : undefined,
      );

      const r = await quality(f, "viewer", ["reconcile"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^escapes \(1\): lots delivered while on hold$/m);
      // Delivered while on its own hold and on the rejected hold of the lot it was made from.
      assert.match(
        r.stdout,
        new RegExp(
          `^FG-001\\s+FG-1\\s+WH/OUT/00005\\s+\\S+ \\S+\\s+(${active} ${rejected}|${rejected} ${active})$`,
          "m",
        ),
      );
      assert.match(r.stdout, /^Odoo: check skipped \(no Odoo settings/m);
      assert.match(r.stdout, /^1 finding$/m);

      const withOdoo = await quality(f, "viewer", ["reconcile", "--grace", "0s", "--json"], odooEnv);
      assert.equal(withOdoo.code, 1);
      const report = JSON.parse(withOdoo.stdout);
      assert.deepEqual(
        report.escapes.map((e: { lot: string; pickingRef: string }) => [e.lot, e.pickingRef]),
        [["FG-001", "WH/OUT/00005"]],
      );
      assert.deepEqual(report.odoo.missingAlerts, []);
    },
  );
});
