/**
 * Leases (streams/src/lease.ts): of replicas that all want a piece of work, exactly one owns it; a
 * standby takes over a bounded time after the owner is killed, paused or cut from NATS, never while
 * the owner still believes it owns; and a paused owner that wakes up cannot write the work's state
 * any more (fencing). Replicas are real processes where a signal matters (SIGKILL, SIGSTOP).
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { type KV, Kvm } from "@nats-io/kv";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { FencedValue, Lease, LeaseFencedError } from "../../streams/src/lease.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const TTL = 3_000;
/** The lease's default look interval: a standby may first have seen the owner's last renewal this much before it stopped. */
const LOOK = TTL / 3;
const server = await startTestServer();
const BUCKET = "THREADLINE_LEASES";
const admin = await connectTo(server);
await new Kvm(admin).create(BUCKET, { history: 1 });

async function bucket(): Promise<KV> {
  return new Kvm(await connectTo(server)).open(BUCKET);
}

type Report = { event: string; holder: string; [k: string]: unknown };

/** A replica in its own process (test/streams/fixtures/lease-holder.ts). */
function replica(key: string, holder: string) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [
      join(PACKAGE_ROOT, "dist/test/streams/fixtures/lease-holder.js"),
      server.clientUrl,
      BUCKET,
      key,
      holder,
      String(TTL),
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const reports: Report[] = [];
  createInterface({ input: child.stdout }).on("line", (l) =>
    reports.push({ ...(JSON.parse(l) as Report), at: Date.now() }),
  );
  after(() => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  });
  return {
    child,
    reports,
    seen: (event: string) => reports.find((r) => r.event === event),
    count: (event: string) => reports.filter((r) => r.event === event).length,
    /** Lets the replica's next checked write go out. */
    go: () => child.stdin.write("go\n"),
  };
}

describe("a lease among replicas", () => {
  test("of three contenders exactly one owns it, and keeps it while it renews", async () => {
    const leases = await Promise.all(
      ["a", "b", "c"].map(
        async (h) => new Lease({ kv: await bucket(), key: "one-owner", holder: h, ttlMs: TTL }),
      ),
    );
    for (const l of leases) l.start();
    await until("an owner", () => leases.some((l) => l.isOwner()));
    const owner = leases.find((l) => l.isOwner());
    // 4.5 s (one and a half ttls) of sampling: never two owners, never a change of owner.
    for (let i = 0; i < 45; i += 1) {
      assert.deepEqual(
        leases.filter((l) => l.isOwner()),
        [owner],
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(leases.map((l) => l.stop()));
  });

  test("a released lease is taken by a standby at once, not after the ttl", async () => {
    const first = new Lease({ kv: await bucket(), key: "released", holder: "first", ttlMs: TTL });
    first.start();
    await until("the first owns it", () => first.isOwner());
    const second = new Lease({ kv: await bucket(), key: "released", holder: "second", ttlMs: TTL });
    const acquired = new Promise<number>((resolve) => second.once("acquired", resolve));
    second.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second.isOwner(), false);
    const released = Date.now();
    await first.stop();
    const token = await acquired;
    assert.ok(Date.now() - released < TTL, `taken ${Date.now() - released} ms after the release`);
    assert.ok(token > (first.token ?? 0));
    await second.stop();
  });

  test("stopped while its take-over is on its way: it never becomes the owner, and the lease is free at once", async () => {
    const kv = await bucket();
    let asked = () => {};
    const createAsked = new Promise<void>((r) => {
      asked = r;
    });
    let letCreateGo = () => {};
    const createHeld = new Promise<void>((r) => {
      letCreateGo = r;
    });
    // The bucket as the lease sees it, with its create held until the test lets it go.
    const slow = new Proxy(kv, {
      get(target, name) {
        if (name === "create")
          return async (k: string, v: Uint8Array) => {
            asked();
            await createHeld;
            return target.create(k, v);
          };
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const late = new Lease({ kv: slow, key: "stopped-mid-take-over", holder: "late", ttlMs: TTL });
    let acquired = 0;
    late.on("acquired", () => acquired++);
    late.start();
    await createAsked;
    await late.stop();
    letCreateGo();

    const next = new Lease({ kv, key: "stopped-mid-take-over", holder: "next", ttlMs: TTL });
    const started = performance.now();
    const taken = new Promise<number>((resolve) => next.once("acquired", () => resolve(performance.now())));
    next.start();
    after(() => next.stop());
    // Free within a look or two, not after the ttl an orphaned entry would make it wait.
    assert.ok((await taken) - started < TTL, "taken before the ttl");
    assert.equal(acquired, 0, "the stopped lease told nobody it owns");
  });

  test("an owner cut from NATS gives the lease up before a standby takes it, and the standby takes it within the ttl plus one look", async () => {
    const ownerNc = await connectTo(server);
    const owner = new Lease({
      kv: await new Kvm(ownerNc).open(BUCKET),
      key: "cut-off",
      holder: "owner",
      ttlMs: TTL,
    });
    const lostAt = new Promise<number>((resolve) => owner.once("lost", () => resolve(Date.now())));
    owner.start();
    await until("the owner owns it", () => owner.isOwner());
    const standby = new Lease({ kv: await bucket(), key: "cut-off", holder: "standby", ttlMs: TTL });
    const acquiredAt = new Promise<number>((resolve) => standby.once("acquired", () => resolve(Date.now())));
    standby.start();
    await new Promise((r) => setTimeout(r, 200));
    const cut = Date.now();
    await ownerNc.close();
    // The owner only notices when it next asks itself; work checks isOwner() before each step.
    const demoted = await until("the cut-off owner to demote itself", async () =>
      owner.isOwner() ? false : lostAt,
    );
    const taken = await acquiredAt;
    assert.ok(
      demoted <= taken,
      `the owner gave up at +${demoted - cut} ms, the standby took over at +${taken - cut} ms`,
    );
    assert.ok(taken - cut <= TTL + 2 * standby.renewEveryMs + 500, `took over after ${taken - cut} ms`);
    await Promise.all([owner.stop(), standby.stop()]);
  });

  test("an owner that could not renew for longer than it may own takes the lease back at once when nobody took it meanwhile", async () => {
    const kv = await bucket();
    let unreachable = false;
    // The bucket as the lease sees it, with its calls failing like a NATS server that is down.
    const flaky = new Proxy(kv, {
      get(target, name) {
        const value = Reflect.get(target, name);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (unreachable) throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
          return value.apply(target, args);
        };
      },
    });
    const lone = new Lease({ kv: flaky, key: "lone-owner", holder: "lone", ttlMs: TTL });
    lone.start();
    after(() => lone.stop());
    await until("it owns it", () => lone.isOwner());
    const first = lone.token ?? 0;
    unreachable = true;
    await until("it gives the lease up", () => !lone.isOwner());
    const back = Date.now();
    const reacquired = new Promise<number>((resolve) => lone.once("acquired", resolve));
    unreachable = false;
    const token = await reacquired;
    // Within a look or two, not after a whole ttl of watching its own entry.
    assert.ok(Date.now() - back < TTL - LOOK, `taken back ${Date.now() - back} ms after NATS was back`);
    assert.ok(token > first, "a new fencing token");

    // Had another holder written meanwhile, the revision moved: the lease stays with that holder.
    unreachable = true;
    await until("it gives the lease up again", () => !lone.isOwner());
    const other = new Lease({ kv: await bucket(), key: "lone-owner", holder: "other", ttlMs: TTL });
    after(() => other.stop());
    other.start();
    await until("the other holder takes it over", () => other.isOwner());
    unreachable = false;
    await new Promise((r) => setTimeout(r, 2 * LOOK));
    assert.equal(lone.isOwner(), false, "the first holder did not take it back");
    assert.equal(other.isOwner(), true);
  });
});

describe("fencing: a paused owner that wakes cannot write", () => {
  test("SIGSTOP between its check and its write: the standby takes over and claims the state, the woken owner's write is refused (LEASE_FENCED) and nothing it wrote late is kept", async () => {
    const a = replica("paused", "a");
    await until("a owns it", () => a.seen("checked"));
    const b = replica("paused", "b");
    await until("b is contending", () => b.seen("started"));
    a.go();
    await until("a wrote 1", () => a.reports.some((r) => r.event === "wrote" && r["n"] === 1));
    await until("a checked again", () => a.count("checked") >= 2);
    // a has checked that it owns the lease; its write waits. Pause it there, as a GC pause or a
    // frozen VM would.
    const paused = Date.now();
    a.child.kill("SIGSTOP");
    const taken = await until("b takes over", () => b.seen("claimed"), { timeoutMs: 4 * TTL });
    assert.equal(taken["n"], 1, "b resumes from a's last write");
    // The standby counts the ttl from when it first saw the owner's last renewal, at most one look
    // before the pause: never sooner than that.
    assert.ok(
      (taken["at"] as number) - paused >= TTL - LOOK - 100,
      `taken ${(taken["at"] as number) - paused} ms after the pause`,
    );
    b.go();
    await until("b wrote 2", () => b.reports.some((r) => r.event === "wrote" && r["n"] === 2));
    a.child.kill("SIGCONT");
    a.go();
    const refused = await until("a's late write refused", () => a.seen("refused"));
    assert.equal(refused["code"], "LEASE_FENCED");
    await until("a knows it lost the lease", () => a.seen("lost"));
    const kv = await bucket();
    assert.equal((await kv.get("paused.cursor"))?.json(), 2, "the state is b's");
    assert.ok(!a.reports.some((r) => r.event === "wrote" && r["n"] === 2));
  });

  test("SIGKILL of the owner: the standby takes over after the ttl and carries on from the last write", async () => {
    const a = replica("killed", "a");
    await until("a owns it", () => a.seen("checked"));
    a.go();
    await until("a wrote 1", () => a.reports.some((r) => r.event === "wrote" && r["n"] === 1));
    const b = replica("killed", "b");
    await until("b is contending", () => b.seen("started"));
    const killed = Date.now();
    a.child.kill("SIGKILL");
    const taken = await until("b takes over", () => b.seen("claimed"), { timeoutMs: 4 * TTL });
    assert.equal(taken["n"], 1);
    const after = (taken["at"] as number) - killed;
    assert.ok(after >= TTL - LOOK - 100 && after <= 2 * TTL + 500, `took over ${after} ms after the kill`);
  });

  test("a write before claiming, or after another claim, is refused with LEASE_FENCED", async () => {
    const kv = await bucket();
    const mine = new FencedValue<number>(kv, "direct.cursor");
    await assert.rejects(
      mine.write(1),
      (e: unknown) => e instanceof LeaseFencedError && e.code === "LEASE_FENCED",
    );
    assert.equal(await mine.claim(), undefined);
    await mine.write(5);
    const theirs = new FencedValue<number>(await bucket(), "direct.cursor");
    assert.equal(await theirs.claim(), 5);
    await assert.rejects(mine.write(6), /another owner has claimed it/);
    await theirs.write(7);
    assert.equal((await kv.get("direct.cursor"))?.json(), 7);
  });
});
