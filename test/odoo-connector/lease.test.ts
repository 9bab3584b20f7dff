/**
 * Two copies of the connector on one Odoo database (`threadline odoo run` as processes): exactly one
 * owns the database's lease and polls Odoo; when it is SIGKILLed, or SIGSTOPped, the other takes over
 * within the lease's ttl and the orders released meanwhile still become events, once each; the paused
 * copy, woken, knows it lost the lease and stands by.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { until } from "../harness/wait.js";
import {
  type ConnectorProcess,
  newOrder,
  spawnConnector,
  startOdoo,
  startStreams,
  storedEvents,
} from "./fixture.js";

const RELEASED = "mfg.production.production_order_released.v1";
const TTL_MS = 3_000;

async function metric(c: ConnectorProcess, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${c.url}/metrics`).catch(() => undefined))?.text().catch(() => undefined);
  const m = text?.split("\n").find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.slice(m.lastIndexOf(" ") + 1));
}

const owns = (c: ConnectorProcess, db: string) =>
  metric(c, new RegExp(`^threadline_lease_owner\\{lease="lease\\.odoo-connector\\.${db}"\\} `));

async function releasedOnce(
  nc: Parameters<typeof storedEvents>[0],
  site: string,
  orderRef: string,
): Promise<boolean> {
  const refs = (await storedEvents(nc, RELEASED, site))
    .map((e) => e.value.orderRef)
    .filter((r) => r === orderRef);
  assert.ok(refs.length <= 1, `${orderRef} released ${refs.length} times`);
  return refs.length === 1;
}

for (const fault of ["SIGKILL", "SIGSTOP"] as const) {
  test(`two connectors on one database: one polls; after a ${fault} of it the other takes over within the ttl and nothing is missed or doubled`, async (t) => {
    const db = `lease${fault.toLowerCase()}`;
    const site = `plant-${db}`;
    const sim = await startOdoo(t, { profile: 17, db });
    const { server, nc } = await startStreams(t);
    const env = { SITE: site, LEASE_TTL_MS: String(TTL_MS), SYNC_POLL_INTERVAL_MS: "300" };
    const copies = [await spawnConnector(t, sim, server, env), await spawnConnector(t, sim, server, env)];
    const owner = await until("one copy owns the lease", async () => {
      const owned = await Promise.all(copies.map((c) => owns(c, db)));
      return owned.filter((o) => o === 1).length === 1 && owned.filter((o) => o === 0).length === 1
        ? copies[owned.indexOf(1)]
        : undefined;
    });
    const standby = copies.find((c) => c !== owner) as ConnectorProcess;
    const first = await newOrder(sim, "FIN-SB20", 100);
    await until(`${first.name} released`, () => releasedOnce(nc, site, first.name));

    const faultAt = Date.now();
    owner.child.kill(fault);
    const second = await newOrder(sim, "FIN-SB20", 200);
    await until("the standby owns the lease", async () => (await owns(standby, db)) === 1, {
      timeoutMs: 4 * TTL_MS,
    });
    const tookOver = Date.now() - faultAt;
    assert.ok(tookOver <= 2 * TTL_MS + 2_000, `took over ${tookOver} ms after the ${fault}`);
    await until(`${second.name} released by the new owner`, () => releasedOnce(nc, site, second.name));

    if (fault === "SIGSTOP") {
      owner.child.kill("SIGCONT");
      // Woken, it finds its lease gone and stands by: one owner, the other not.
      await until(
        "the woken copy stands by",
        async () => (await owns(owner, db)) === 0 && (await owns(standby, db)) === 1,
      );
      assert.match(owner.output(), /lease lost/);
      const third = await newOrder(sim, "FIN-SB20", 300);
      await until(`${third.name} released`, () => releasedOnce(nc, site, third.name));
    }
    for (const o of [first, second]) assert.ok(await releasedOnce(nc, site, o.name));
  });
}
