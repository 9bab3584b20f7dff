/**
 * The production orchestrator: each production order's process from its release in Odoo to its
 * shipment (process.ts), driven by the events of the streams, its state in the KV bucket
 * THREADLINE_ORDERS, its dispatches sent to the machines through the bridge's command path.
 * Run it: `NATS_URL=nats://… SITE=plant-lyon node dist/services/production-orchestrator/src/main.js`
 * (README.md).
 *
 * Delivery is at-least-once and a replay brings old events again: every input carries an id the
 * order's state remembers, every output an id derived from the order and its step visit, so nothing
 * is applied, published or dispatched twice. A restart (or another replica) resumes from the bucket.
 */
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import type { EventPayloads } from "../../../contracts/src/index.js";
import {
  type ConsumedEvent,
  derivedEventId,
  type EventPublisher,
  LeaseFencedError,
  type Logger,
  MasterData,
  type RunningService,
  readDeadLetter,
  runService,
  sendMachineCommand,
  startOrExit,
} from "../../../streams/src/index.js";
import { budgetOf, OrchestratorConfig } from "./config.js";
import { ORCHESTRATOR_DURABLES, ORDERS_BUCKET, productionOrchestratorManifest } from "./manifest.js";
import { type OrchestratorMetrics, orchestratorMetrics } from "./metrics.js";
import {
  advance,
  type DispatchRequest,
  FINAL_STEPS,
  fromRelease,
  type OrderInput,
  type OrderState,
  type ProcessRules,
  waitingFor,
} from "./process.js";
import { OrderStore } from "./store.js";

const SERVICE = productionOrchestratorManifest.service;

/** Everything an order's transition needs to act. */
interface Engine {
  readonly store: OrderStore;
  readonly rules: ProcessRules;
  /** Which order holds each line (one at a time). */
  readonly claims: LineClaims;
  readonly publisher: EventPublisher;
  readonly metrics: OrchestratorMetrics;
  readonly log: Logger;
  /** Sends a dispatch to the machines and returns their answers. */
  readonly send: (
    order: OrderState,
    d: DispatchRequest,
  ) => Promise<OrderInput & { kind: "dispatchAnswered" }>;
}

/**
 * Applies one input to its order: the transition's events are published, then the state is written
 * (compare-and-set; a conflict applies the input again to what the other writer stored). A dispatch
 * the transition asks for is sent afterwards and its answer applied as the next input.
 */
export async function applyToOrder(
  engine: Engine,
  ref: string,
  input: OrderInput,
): Promise<OrderState | undefined> {
  const { store, rules, publisher, metrics } = engine;
  let dispatch: { order: OrderState; request: DispatchRequest } | undefined;
  const state = await store.updateOrder(ref, async (current) => {
    if (!current && input.kind !== "released") return { state: undefined, result: undefined };
    const base = current ?? fromRelease(input as Extract<OrderInput, { kind: "released" }>);
    const next = advance(base, input, rules);
    if (!next.changed) return { state: undefined, result: current };
    for (const p of next.publish) {
      await publisher.publish(p.type, p.value as never, {
        site: next.state.site,
        ...(next.state.line !== null ? { line: next.state.line } : {}),
        key: next.state.orderRef,
        id: p.id,
      });
      if (p.type === "mfg.production.order_step_changed.v1")
        metrics.transitions.inc({ step: next.state.step });
    }
    dispatch = next.dispatch ? { order: next.state, request: next.dispatch } : undefined;
    return { state: next.state, result: next.state };
  });
  if (state === undefined && input.kind !== "released" && "id" in input) {
    // An event (not a sweep's tick or a machine's answer) of an order not released here — another
    // site's, or older than the stream: set aside.
    metrics.ignored.inc({ reason: "unknown_order" });
    engine.log.debug(
      { orderRef: ref, input: input.kind },
      "an event of an order not released here: set aside",
    );
  }
  if (input.kind === "released" && input.value.lotToProduce)
    await store.rememberLot(input.value.lotToProduce, ref);
  if (state) engine.claims.update(state);
  if (dispatch) {
    const answer = await engine.send(dispatch.order, dispatch.request);
    return applyToOrder(engine, ref, answer);
  }
  return state;
}

/**
 * One order per line: the order dispatched to a line, or running on it, holds it until it completes
 * (or is cancelled or moved); an order routed to a held line queues (DISPATCHING, waiting for
 * DISPATCH) and is dispatched, earliest planned start first, when the line is free. Claims live in
 * memory, taken synchronously while a transition is computed (two orders cannot both take a free
 * line), and are rebuilt from the bucket at every sweep (a restart, another replica's changes).
 */
export class LineClaims {
  private readonly holders = new Map<string, string>();

  /** The other order holding `line`, or undefined: then `ref` holds it. */
  claim(line: string, ref: string): string | undefined {
    const holder = this.holders.get(line);
    if (holder !== undefined && holder !== ref) return holder;
    this.holders.set(line, ref);
    return undefined;
  }

  /** After a transition: an order that no longer holds its line lets it go. */
  update(o: OrderState): void {
    for (const [line, ref] of this.holders)
      if (ref === o.orderRef && !(holds(o) && o.line === line)) this.holders.delete(line);
  }

  /** From every stored order (the sweep). */
  rebuild(orders: readonly OrderState[]): void {
    this.holders.clear();
    for (const o of [...orders].sort((a, b) => a.enteredAt - b.enteredAt))
      if (holds(o) && o.line !== null && !this.holders.has(o.line)) this.holders.set(o.line, o.orderRef);
  }
}

/** Whether an order holds its line: dispatching to it (not queued), dispatched, running. */
function holds(o: OrderState): boolean {
  return (
    (o.step === "DISPATCHING" && o.queuedFor === null) || o.step === "DISPATCHED" || o.step === "RUNNING"
  );
}

/** Writes the order and lot to each machine of the line through the bridge; never assumes a write. */
function dispatcher(
  nc: Parameters<typeof sendMachineCommand>[0],
  timeoutMs: number,
  metrics: OrchestratorMetrics,
  log: Logger,
  isOwner?: () => boolean,
): Engine["send"] {
  return async (order, d) => {
    // A deposed active sends nothing more: the new one dispatches again from the stored state.
    if (isOwner && !isOwner())
      throw new LeaseFencedError(`dispatch ${d.requestKey}`, "this replica is no longer the active one");
    const answers = await Promise.all(
      d.machines.map(async (machine) => {
        try {
          const reply = await sendMachineCommand(
            nc,
            { site: order.site, line: d.line, machine },
            {
              requestId: derivedEventId(SERVICE, "dispatch", d.requestKey, machine),
              requestedBy: SERVICE,
              body: { command: "SET_ORDER", order: d.order, lot: d.lot },
            },
            { timeoutMs },
          );
          // INVALID is the bridge refusing the values or the machine: for the order, a refusal.
          const outcome = reply.outcome === "INVALID" ? "REFUSED" : reply.outcome;
          metrics.commands.inc({ outcome: reply.outcome });
          return { machine, outcome, message: reply.message } as const;
        } catch (err) {
          // No bridge listening, or no answer in time: not confirmed, sent again after DISPATCH_RETRY_MS.
          metrics.commands.inc({ outcome: "NO_ANSWER" });
          log.warn({ err, order: d.order, line: d.line, machine }, "order write not answered");
          return {
            machine,
            outcome: "UNCONFIRMED",
            message: `no answer from the bridge: ${(err as Error).message}`,
          } as const;
        }
      }),
    );
    return { kind: "dispatchAnswered", at: Date.now(), line: d.line, attempt: d.attempt, answers };
  };
}

/** One look at every open order: budgets, line stops past the threshold, dispatches to send again. */
export async function sweep(engine: Engine, lineDownAfterMs: number, now = Date.now()): Promise<void> {
  const { store, metrics } = engine;
  const stops = new Map((await store.lineStops()).map((l) => [l.line, l]));
  // Earliest planned start first: a freed line goes to the order planned first.
  const orders = (await store.orders()).sort(
    (a, b) => a.plannedStartAt - b.plannedStartAt || a.orderRef.localeCompare(b.orderRef),
  );
  engine.claims.rebuild(orders);
  const open = new Map<string, number>();
  const overdue = new Map<string, number>();
  for (const o of orders) {
    if (FINAL_STEPS.has(o.step)) continue;
    let current: OrderState | undefined = o;
    const stop = o.line !== null ? stops.get(o.line) : undefined;
    const opened = stop ? Object.values(stop.open).sort((a, b) => a.since - b.since)[0] : undefined;
    if (opened && now - opened.since >= lineDownAfterMs)
      current = await applyToOrder(engine, o.orderRef, {
        kind: "lineDown",
        at: now,
        since: opened.since,
        reason: `${opened.machine ?? "a machine"}: ${opened.reason}`,
      });
    else if (!opened && o.waits.LINE_DOWN !== undefined)
      current = await applyToOrder(engine, o.orderRef, { kind: "lineUp", at: now });
    current = (await applyToOrder(engine, o.orderRef, { kind: "tick", at: now })) ?? current;
    if (!current || FINAL_STEPS.has(current.step)) continue;
    const key = `${current.step}|${waitingFor(current) ?? "none"}`;
    open.set(key, (open.get(key) ?? 0) + 1);
    if (current.overdueVisit === current.visit)
      overdue.set(current.step, (overdue.get(current.step) ?? 0) + 1);
  }
  metrics.orders.reset();
  for (const [key, n] of open) {
    const [step, waiting] = key.split("|") as [string, string];
    metrics.orders.set({ step, waiting }, n);
  }
  metrics.overdue.reset();
  for (const [step, n] of overdue) metrics.overdue.set({ step }, n);
}

type Payload<K extends keyof EventPayloads> = ConsumedEvent<EventPayloads[K]>;
const at = (e: ConsumedEvent<unknown>) => e.envelope.time.getTime();

export function startService(env: Record<string, string | undefined> = process.env): Promise<RunningService> {
  return runService({
    manifest: productionOrchestratorManifest,
    configSchema: OrchestratorConfig,
    env,
    // One active replica, the others hot standbys (README "Running several replicas"): the line
    // claims are in memory and the durables ordered, so two replicas must never both work.
    activeStandby: { bucket: ORDERS_BUCKET },
    setup: async ({ nc, config, publisher, logger, metrics: registry, lease }) => {
      // Declared in the manifest and created by `threadline streams apply`: opened, never created here.
      // Run at each take-over: the orders are read from the bucket, which the previous active wrote.
      const store = new OrderStore(await new Kvm(nc).open(ORDERS_BUCKET), lease);
      const masterData = MasterData.open(nc, {
        kinds: ["workCenter", "product", "bom"],
        site: config.SITE,
        logger,
        cleanup: "expire",
      });
      await masterData.ready;
      const metrics = orchestratorMetrics(registry);
      const claims = new LineClaims();
      const rules: ProcessRules = {
        claimLine: (line, ref) => claims.claim(line, ref),
        lineOf: (wc, released) => (wc !== null ? (config.LINE_BY_WORKCENTER[wc] ?? released) : released),
        routingProblem: (o) => {
          if (
            o.workCenterCode !== null &&
            masterData.all("workCenter").length > 0 &&
            !masterData.workCenter(o.workCenterCode)
          )
            return `work centre ${o.workCenterCode} is unknown to the master data (MFG_MASTERDATA)`;
          const product =
            o.product.odooId !== null ? masterData.productById(BigInt(o.product.odooId)) : undefined;
          if (product && masterData.all("bom").length > 0 && !masterData.bomOf(product.odooId))
            return `product ${o.product.code} has no active bill of materials in the master data`;
          return undefined;
        },
        lotFor: (o) => {
          const product =
            o.product.odooId !== null ? masterData.productById(BigInt(o.product.odooId)) : undefined;
          return product?.tracking === "lot"
            ? config.LOT_FORMAT.replace("{order}", o.orderRef.replaceAll("/", "-"))
            : null;
        },
        machinesOf: (line) => config.DISPATCH_MACHINES[line] ?? [],
        firstArticle: (code) => config.FIRST_ARTICLE_PRODUCTS.includes(code),
        budgetOf: (step, o) => budgetOf(config.STEP_BUDGETS, step, o.line, o.product.code),
        dispatchRetryMs: config.DISPATCH_RETRY_MS,
      };
      const engine: Engine = {
        store,
        rules,
        claims,
        publisher,
        metrics,
        log: logger,
        send: dispatcher(nc, config.COMMAND_TIMEOUT_MS, metrics, logger, lease && (() => lease.isOwner())),
      };
      const toOrder = async (ref: string, input: OrderInput) => {
        // Another site's order is another orchestrator's: counted and logged, not silently dropped.
        if (input.kind === "released" && input.value.equipment.site !== config.SITE) {
          metrics.ignored.inc({ reason: "other_site" });
          logger.debug({ orderRef: ref, site: input.value.equipment.site }, "another site's order: not ours");
          return;
        }
        // Odoo renames an order it splits (WH/MO/00011 → WH/MO/00011-001, the rest WH/MO/00011-002):
        // the events of the renamed one belong to the order as released; a backorder is its own.
        const own = input.kind === "released" || (await store.order(ref)) !== undefined;
        const family = ref.replace(/-\d{3}$/, "");
        const target = !own && family !== ref && (await store.order(family)) ? family : ref;
        await applyToOrder(engine, target, input);
      };
      const byLot = async (lot: string | null, input: OrderInput) => {
        const ref = lot ? await store.orderOfLot(lot) : undefined;
        if (ref) await toOrder(ref, input);
      };

      // The sweep runs on the active replica only (runService's activeStandby): from the take-over
      // until the lease is lost. A sweep of a deposed owner still under way is stopped by the store's
      // owner check before each write; it publishes only ids derived from the order's step visit.
      let sweeping: Promise<void> | undefined;
      const timer = setInterval(() => {
        if (lease && !lease.isOwner()) return;
        sweeping ??= sweep(engine, config.LINE_DOWN_AFTER_MS)
          .catch((err) => logger.warn({ err }, "sweep of the open orders failed; next at the next interval"))
          .finally(() => {
            sweeping = undefined;
          });
      }, config.SWEEP_INTERVAL_MS);
      timer.unref();

      return {
        consumers: [
          {
            stream: "MFG_PRODUCTION",
            durable: ORCHESTRATOR_DURABLES.orders,
            // One order's events one at a time, in stream order; orders in parallel.
            ordered: true,
            orderingKey: (m) => m.headers?.get("ce-subject") || undefined,
            concurrency: 8,
            handlers: {
              "mfg.production.production_order_released.v1": (
                e: Payload<"mfg.production.production_order_released.v1">,
              ) => toOrder(e.value.orderRef, { kind: "released", id: e.id, at: at(e), value: e.value }),
              "mfg.production.production_order_changed.v1": async (
                e: Payload<"mfg.production.production_order_changed.v1">,
              ) => {
                const lot = e.value.lotToProduce;
                if (lot) await store.rememberLot(lot, e.value.orderRef);
                await toOrder(e.value.orderRef, { kind: "changed", id: e.id, at: at(e), value: e.value });
              },
              "mfg.production.production_reported.v1": async (
                e: Payload<"mfg.production.production_reported.v1">,
              ) => {
                const { lot, orderRef } = e.value;
                if (orderRef === null) return; // counts for no order: OEE only
                if (lot) await store.rememberLot(lot, orderRef);
                await toOrder(orderRef, { kind: "reported", id: e.id, at: at(e), value: e.value });
              },
              "mfg.production.production_posted.v1": (e: Payload<"mfg.production.production_posted.v1">) =>
                toOrder(e.value.orderRef, { kind: "posted", id: e.id, at: at(e), value: e.value }),
              "mfg.production.production_run_ended.v1": (
                e: Payload<"mfg.production.production_run_ended.v1">,
              ) => toOrder(e.value.orderRef, { kind: "runEnded", id: e.id, at: at(e), value: e.value }),
              "mfg.production.production_order_completed.v1": (
                e: Payload<"mfg.production.production_order_completed.v1">,
              ) => toOrder(e.value.orderRef, { kind: "completed", id: e.id, at: at(e), value: e.value }),
            },
          },
          {
            stream: "MFG_MACHINE",
            durable: ORCHESTRATOR_DURABLES.downtimeStarted,
            concurrency: 1,
            handlers: {
              "mfg.machine.downtime_started.v1": async (e: Payload<"mfg.machine.downtime_started.v1">) => {
                const { line, machine } = e.value.equipment;
                if (line === null) return;
                await store.updateLine(line, (l) => ({
                  ...l,
                  open: {
                    ...l.open,
                    [e.value.downtimeId]: {
                      since: e.value.startedAt.getTime(),
                      reason: `${e.value.category}${e.value.reason ? ` ${e.value.reason.code}` : ""}`,
                      machine,
                    },
                  },
                }));
              },
            },
          },
          {
            stream: "MFG_MACHINE",
            durable: ORCHESTRATOR_DURABLES.downtimeEnded,
            concurrency: 1,
            handlers: {
              "mfg.machine.downtime_ended.v1": async (e: Payload<"mfg.machine.downtime_ended.v1">) => {
                const line = e.value.equipment.line;
                if (line === null) return;
                // An end before its start leaves nothing open either way.
                await store.updateLine(line, (l) => {
                  const open = { ...l.open };
                  delete open[e.value.downtimeId];
                  return { ...l, open };
                });
              },
            },
          },
          {
            stream: "MFG_QUALITY",
            durable: ORCHESTRATOR_DURABLES.quality,
            concurrency: 1,
            handlers: {
              "mfg.quality.quality_hold_placed.v1": (e: Payload<"mfg.quality.quality_hold_placed.v1">) =>
                byLot(e.value.lot, {
                  kind: "holdPlaced",
                  id: e.id,
                  at: at(e),
                  holdId: e.value.holdId,
                  reason: e.value.reason,
                }),
              "mfg.quality.quality_hold_released.v1": (e: Payload<"mfg.quality.quality_hold_released.v1">) =>
                byLot(e.value.lot, { kind: "holdReleased", id: e.id, at: at(e), holdId: e.value.holdId }),
            },
          },
          {
            stream: "MFG_INVENTORY",
            durable: ORCHESTRATOR_DURABLES.deliveries,
            concurrency: 1,
            handlers: {
              "mfg.inventory.goods_movement_posted.v1": async (
                e: Payload<"mfg.inventory.goods_movement_posted.v1">,
              ) => {
                if (e.value.movementType !== "DELIVERY") return;
                await byLot(e.value.lot, { kind: "shipped", id: e.id, at: at(e), value: e.value });
              },
            },
          },
          {
            stream: "MFG_DLQ",
            durable: ORCHESTRATOR_DURABLES.postingFailures,
            concurrency: 1,
            // The dead letters keep the original event: a count or a run end the connector gave up on.
            handlers: {
              "mfg.production.production_reported.v1": (
                e: Payload<"mfg.production.production_reported.v1">,
              ) => (e.value.orderRef === null ? Promise.resolve() : postingFailed(e, e.value.orderRef)),
              "mfg.production.production_run_ended.v1": (
                e: Payload<"mfg.production.production_run_ended.v1">,
              ) => postingFailed(e, e.value.orderRef),
            },
          },
        ],
        onStopping: () => clearInterval(timer),
        onStop: async () => {
          clearInterval(timer);
          await sweeping;
          // The owner's gauges: a standby's last figures would be counted beside the new owner's.
          metrics.orders.reset();
          metrics.overdue.reset();
          await masterData.close();
        },
      };

      async function postingFailed(e: ConsumedEvent<unknown>, ref: string): Promise<void> {
        const letter = readDeadLetter({ headers: e.headers, data: new Uint8Array() });
        await toOrder(ref, {
          kind: "postingDeadLettered",
          // The dead letter carries the original's id, which the order may have applied as a count.
          id: `dead-letter:${e.id}`,
          at: letter.lastFailureAt.getTime(),
          sourceEventId: e.id,
          reason: `posting ${e.id} dead-lettered: ${letter.code}${letter.message ? ` — ${letter.message}` : ""}`,
        });
      }
    },
  });
}

// Started as a program: the running service, or one JSON log line saying why it cannot start (exit 1).
if (process.argv[1] === fileURLToPath(import.meta.url))
  await startOrExit(productionOrchestratorManifest.service, () => startService());
