/**
 * The quality service on two replicas, active/standby (runService's `activeStandby`): the replica
 * holding `lease.quality-service.<site>` loads the state, consumes, answers the API and is ready; the
 * other holds nothing, answers `/readyz` and the API 503. The active one runs as its own process and is
 * killed: the standby takes over within the ttl, loads the state the killed one wrote (the SPC episode
 * it opened goes on and is ended once, by the new active, under its violation id) and handles what
 * was published while nobody was active. One hold per lot of the violation, placed once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startService } from "../../services/quality-service/src/main.js";
import { QUALITY_BUCKET, QUALITY_DURABLES } from "../../services/quality-service/src/manifest.js";
import { storedEvents } from "../harness/events.js";
import { dispatchPressLot, LINE_1, SITE, startQualityFixture, USERS } from "../harness/quality.js";
import { until } from "../harness/wait.js";

const TTL_MS = 3_000;
/** A take-over within the ttl after the active's last renewal, plus a renewal period and slack. */
const TAKEOVER_BOUND_MS = TTL_MS + TTL_MS / 3 + 1_500;

async function readiness(url: string): Promise<{ status: number; reason: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, reason: await res.text() };
}

test("quality service - two replicas: one active and ready, the standby 503 'standby'; the active killed, the standby takes over within the ttl with the state it wrote, and handles what was published meanwhile, nothing twice", async (t) => {
  const f = await startQualityFixture(t, { env: { LEASE_TTL_MS: String(TTL_MS) } });
  // The fixture's own copy gives way (releasing the lease) to the two replicas of this test.
  await f.service().stop();

  let output = "";
  const a = spawn(process.execPath, [path.resolve("dist/services/quality-service/src/main.js")], {
    env: { ...process.env, ...f.env, HOSTNAME: "quality-a", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  a.stdout.on("data", collect);
  a.stderr.on("data", collect);
  t.after(() => a.kill("SIGKILL"));
  const aUrl = await until("a's health server", () => /"url":"(http:[^"]+)"/.exec(output)?.[1], {
    detail: () => output,
  });
  await until("a active", async () => ((await readiness(aUrl)).status === 200 ? true : undefined), {
    detail: () => output,
  });
  const b = await startService({ ...f.env, HOSTNAME: "quality-b" });
  t.after(() => b.stop());

  const holds = (url: string) =>
    fetch(`${url}/quality/holds`, { headers: { authorization: `Bearer ${USERS.viewer.token}` } });
  const standby = await readiness(b.url);
  assert.equal(standby.status, 503);
  assert.match(standby.reason, /standby/);
  assert.equal((await holds(b.url)).status, 503, "a standby's API answers nothing from a state it has not");
  assert.equal((await readiness(aUrl)).status, 200);
  const kv = await new Kvm(f.nc).open(QUALITY_BUCKET);
  const holder = async () => {
    const e = await kv.get(`lease.quality-service.${SITE}`);
    return e?.operation === "PUT" ? e.json<{ holder: string }>().holder.split(":")[0] : undefined;
  };
  assert.equal(await holder(), "quality-a");

  // The press makes INT-001; three points above the upper limit: one violation, one episode, open.
  const line = LINE_1;
  await dispatchPressLot(f);
  const jsm = await jetstreamManager(f.nc);
  const press = { ...line, machine: "press-1" };
  const t0 = Date.now() - 60_000;
  let n = 0;
  const telemetry = async (...values: number[]) => {
    for (const v of values)
      await f.publish(
        "mfg.machine.telemetry_sampled.v1",
        {
          equipment: press,
          samples: [
            {
              tag: "force",
              value: v,
              quality: "GOOD",
              sourceTime: new Date(t0 + n++ * 1000),
              dataType: "DOUBLE",
            },
          ],
        },
        { key: "press-1", line: "line-1", machine: "press-1" },
      );
  };
  const detected = async () =>
    (await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE)).filter(
      (e) => e.value.ruleNumber === 1,
    );
  const endedOf = async () =>
    (await storedEvents(f.nc, "mfg.quality.spc_violation_ended.v1", SITE)).filter(
      (e) => e.value.ruleNumber === 1,
    );
  await telemetry(100.2, 99.8, 100.1, 104, 104.5, 105);
  await until("the holds of the first violation", async () =>
    (await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE)).length === 2 ? true : undefined,
  );
  const [first] = await detected();
  assert.ok(first);

  // Killed mid-episode. Once the server has dropped its pulls, the run goes on while nobody is active:
  // more points beyond the limits (the same episode), then back in control (it ends).
  const killedAt = performance.now();
  a.kill("SIGKILL");
  await until("no pull left on the quality service's durables", async () => {
    const infos = await Promise.all([
      jsm.consumers.info("MFG_MACHINE", QUALITY_DURABLES.telemetry),
      jsm.consumers.info("MFG_QUALITY", QUALITY_DURABLES.quality),
    ]);
    return infos.every((i) => i.num_waiting === 0) ? true : undefined;
  });
  await telemetry(100.1, 99.9, 96, 95.5, 95, 100, 100.1, 99.9, 100);
  await until("b active", async () => ((await readiness(b.url)).status === 200 ? true : undefined), {
    timeoutMs: TAKEOVER_BOUND_MS,
  });
  t.diagnostic(`take-over after SIGKILL: ${Math.round(performance.now() - killedAt)} ms (ttl ${TTL_MS} ms)`);
  assert.equal(await holder(), "quality-b");

  await until("the episode ended", async () => ((await endedOf()).length >= 1 ? true : undefined));
  await until("the consumers idle", async () => {
    const infos = await Promise.all(
      [
        ["MFG_MACHINE", QUALITY_DURABLES.telemetry],
        ["MFG_QUALITY", QUALITY_DURABLES.quality],
      ].map(([stream, durable]) => jsm.consumers.info(stream as string, durable as string)),
    );
    return infos.every((i) => i.num_pending === 0 && i.num_ack_pending === 0) ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 500));

  // The episode the killed replica opened is known to the new one from the bucket: the points below
  // the limit continue it (a replica without that state would have raised a second violation and
  // held the lot again), and it ends once, under its violation id.
  assert.deepEqual(
    (await detected()).map((v) => v.value.violationId),
    [first.value.violationId],
  );
  assert.deepEqual(
    (await endedOf()).map((e) => e.value.violationId),
    [first.value.violationId],
  );
  // One hold per lot of the violation, placed once.
  const placed = await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE);
  assert.deepEqual(
    placed.map((h) => `${h.value.triggeredBy === first.id} ${h.value.product.code} ${h.value.lot}`).sort(),
    ["true FG-1 FG-001", "true INT-1 INT-001"],
  );
  // The new active answers the API from the state it loaded: the killed one's holds are there.
  const listed = await holds(b.url);
  assert.equal(listed.status, 200);
  const body = (await listed.json()) as { holds: { lot: string }[] };
  assert.ok(body.holds.filter((h) => h.lot === "INT-001" || h.lot === "FG-001").length >= 2);
});
