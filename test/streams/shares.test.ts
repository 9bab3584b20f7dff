/**
 * Work shares (streams/src/shares.ts): items spread over the replicas that want them, one owner per
 * item at any time; a replica joining takes its share, one leaving hands its items over at once, and
 * the items of one that dies are taken over within the lease's ttl.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { WorkShares } from "../../streams/src/shares.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const TTL = 3_000;
const ITEMS = ["p0", "p1", "p2", "p3", "p4", "p5"];
const BUCKET = "THREADLINE_SHARES";
const server = await startTestServer();
await new Kvm(await connectTo(server)).create(BUCKET, { history: 1 });

async function replica(group: string, holder: string): Promise<WorkShares> {
  const kv = await new Kvm(await connectTo(server)).open(BUCKET);
  const shares = new WorkShares({ kv, group, holder, ttlMs: TTL, items: ITEMS });
  after(() => shares.stop());
  return shares;
}

/** Every item owned by exactly one of the replicas. */
function assertOneOwnerEach(replicas: readonly WorkShares[]): void {
  for (const item of ITEMS)
    assert.equal(
      replicas.filter((r) => r.isOwner(item)).length <= 1,
      true,
      `${item} is owned by ${replicas.filter((r) => r.isOwner(item)).length} replicas`,
    );
}

const counts = (replicas: readonly WorkShares[]) => replicas.map((r) => r.owned().length).sort();
const allOwned = (replicas: readonly WorkShares[]) =>
  ITEMS.every((item) => replicas.some((r) => r.isOwner(item)));

describe("work shares among replicas", () => {
  test("one replica owns every item; a second and a third joining take their shares, never two owners of an item", async () => {
    const a = await replica("join", "a");
    a.start();
    await until("a owns every item", () => a.owned().length === ITEMS.length);
    const b = await replica("join", "b");
    b.start();
    const two = [a, b];
    await until("a and b share the items 3 + 3", () => allOwned(two) && counts(two).join() === "3,3", {
      detail: () => `owned: ${counts(two).join(",")}`,
    });
    const c = await replica("join", "c");
    c.start();
    const three = [a, b, c];
    // Sampled all along the rebalancing: an item is never owned twice.
    await until(
      "2 + 2 + 2",
      () => {
        assertOneOwnerEach(three);
        return allOwned(three) && counts(three).join() === "2,2,2";
      },
      { intervalMs: 20, detail: () => `owned: ${counts(three).join(",")}` },
    );
    // Stable once balanced: nothing moves for two ttls.
    const before = three.map((r) => r.owned().sort().join());
    await new Promise((r) => setTimeout(r, 2 * TTL));
    assert.deepEqual(
      three.map((r) => r.owned().sort().join()),
      before,
    );
  });

  test("a replica that stops hands its items to the others at once (well before a ttl)", async () => {
    const [a, b] = [await replica("leave", "a"), await replica("leave", "b")];
    a.start();
    b.start();
    await until("3 + 3", () => allOwned([a, b]) && counts([a, b]).join() === "3,3");
    const released: string[] = [];
    a.on("lost", (item, reason) => released.push(`${item}:${reason}`));
    const handedOver = a.owned();
    const stoppedAt = Date.now();
    await a.stop();
    assert.deepEqual(released.sort(), handedOver.map((i) => `${i}:released`).sort());
    await until("b owns every item", () => b.owned().length === ITEMS.length);
    // A free lease is taken on the standby's next look (ttl / 3), not after a ttl.
    assert.ok(Date.now() - stoppedAt < TTL, `took ${Date.now() - stoppedAt} ms`);
  });

  test("the items of a replica killed with SIGKILL are taken over within ttl + two looks", async () => {
    const child = spawn(
      process.execPath,
      [
        join(PACKAGE_ROOT, "dist/test/streams/fixtures/shares-holder.js"),
        server.clientUrl,
        BUCKET,
        "kill",
        "doomed",
        String(TTL),
        ITEMS.join(","),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    after(() => child.kill("SIGKILL"));
    const owned = new Set<string>();
    createInterface({ input: child.stdout }).on("line", (l) => {
      const r = JSON.parse(l) as { event: string; item?: string };
      if (r.event === "acquired") owned.add(r.item as string);
      if (r.event === "lost") owned.delete(r.item as string);
    });
    await until("the child owns every item", () => owned.size === ITEMS.length);
    const b = await replica("kill", "b");
    b.start();
    await until("the child and b share 3 + 3", () => owned.size === 3 && b.owned().length === 3);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await until("b owns every item", () => b.owned().length === ITEMS.length, { timeoutMs: 4 * TTL });
    const took = Date.now() - killedAt;
    assert.ok(took < TTL + 2 * (TTL / 3) + 1_000, `took ${took} ms`);
    assert.ok(took > TTL / 2, `taken after ${took} ms: before the dead owner's lease could have lapsed`);
  });
});
