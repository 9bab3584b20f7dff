/**
 * Commands to machines (streams/src/machine-commands.ts): the bridge's one write path, narrow on
 * purpose.
 *
 * - Only machines whose mapping declares `commands` accept one, and only the nodes declared there
 *   are written; only values matching the mapping's patterns are sent. Anything else is INVALID
 *   and nothing is written.
 * - Nothing is assumed: after the write the machine's own order and lot nodes (`signals.order`,
 *   `signals.lot`) are read until they show the values written (`confirmTimeoutMs`); a write not
 *   confirmed is sent again, `attempts` times in all, then answered UNCONFIRMED. A bad status from
 *   the machine is REFUSED with the status name, and not re-sent (the machine said no). An endpoint
 *   that does not answer its heartbeat gets no write at all: UNCONFIRMED.
 * - Every command is audited once (MachineCommandExecuted, its ce-id derived from the machine and
 *   the requestId) before the reply. A request re-sent with the same requestId is answered with the
 *   first reply, without writing again; an audit that could not be stored is published again then.
 * - Commands to one machine run one at a time, in arrival order.
 *
 * Each bridge subscribes to its own machines' subjects only, so two bridges of one site (one per
 * endpoint group) never answer for each other's machines; a machine no bridge maps has no responder.
 * Replicas of one bridge each subscribe to the machines of the endpoints they own, from the
 * acquisition of the endpoint's lease to its loss, in one queue group: a request reaches one
 * replica. One that no longer owns the endpoint (deposed while a request was on its way) answers
 * UNCONFIRMED "nothing was written", never executes it and does not audit it, so the requester
 * sends it again (same requestId) to the owner.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { ClientSession } from "node-opcua";
import { z } from "zod";
import type { EquipmentPath } from "../../../contracts/src/index.js";
import {
  derivedEventId,
  type EventPublisher,
  type Logger,
  type MachineCommandReply,
  machineCommandSubject,
  sleep,
} from "../../../streams/src/index.js";
import type { MachineMapping, SetOrderCommand } from "./config.js";
import type { BridgeMetrics } from "./metrics.js";
import { reasonOf } from "./opcua/client.js";
import { type ReadBack, readTexts, sendOrder } from "./opcua/write.js";

/** A machine the bridge maps, and how to reach it. */
export interface CommandTarget {
  /** `site/line/machine` (machineKeyOf). */
  readonly key: string;
  readonly equipment: EquipmentPath & { readonly line: string; readonly machine: string };
  readonly mapping: MachineMapping;
  readonly endpoint: {
    readonly id: string;
    /** The session while the endpoint answers, else undefined. */
    readonly answeringSession: ClientSession | undefined;
    readonly status: string;
  };
  /**
   * Whether this replica still owns the machine's endpoint: asked on arrival and again just before
   * the write. @default always
   */
  readonly owns?: () => boolean;
}

export interface MachineCommandsOptions {
  readonly nc: NatsConnection;
  readonly publisher: EventPublisher;
  /** Served from the start; {@link MachineCommandServer.serve} adds more. */
  readonly targets: readonly CommandTarget[];
  /** The queue group of the subscriptions (replicas of one bridge). @default none */
  readonly queue?: string;
  readonly logger: Logger;
  readonly metrics: BridgeMetrics;
}

/** The one source of the command server's defaults. */
export const MACHINE_COMMANDS_DEFAULTS = {
  /** Request ids remembered (with their replies) per bridge; the oldest are forgotten first. */
  rememberedRequests: 10_000,
  /** One OPC UA call, write or read. */
  requestTimeoutMs: 2_000,
  /** Pause between two read-backs. */
  readBackEveryMs: 100,
  /** How long stop() waits for commands being executed. */
  stopTimeoutMs: 10_000,
} as const;

const RequestSchema = z
  .object({
    requestId: z.string().min(1).max(200),
    requestedBy: z.string().min(1).max(200),
    body: z.object({ command: z.string() }).loose(),
  })
  .strict();

const SetOrderBody = z
  .object({
    command: z.literal("SET_ORDER"),
    order: z.string().nullable(),
    lot: z.string().nullable(),
  })
  .strict();

/** What the bridge decided about a request before touching the machine. */
type Checked =
  | {
      readonly ok: true;
      readonly requestId: string;
      readonly requestedBy: string;
      readonly spec: SetOrderCommand;
      readonly order: string | null;
      readonly lot: string | null;
    }
  | {
      readonly ok: false;
      /** null: no requestId/requestedBy could be read (nothing to audit under). */
      readonly who: { readonly requestId: string; readonly requestedBy: string } | null;
      readonly command: "SET_ORDER" | "UNKNOWN";
      readonly order: string | null;
      readonly lot: string | null;
      readonly message: string;
    };

const issues = (e: z.ZodError, prefix = "") =>
  e.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== "").join(".") || "request"}: ${i.message}`);

/** Validates a request against the machine's mapping (JSON shape, command declared, values allowed). */
export function checkRequest(data: Uint8Array, target: Pick<CommandTarget, "key" | "mapping">): Checked {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    return invalid(null, `not JSON: ${(err as Error).message}`);
  }
  const parsed = RequestSchema.safeParse(json);
  if (!parsed.success) {
    const j = json as { requestId?: unknown; requestedBy?: unknown } | null;
    const who =
      typeof j?.requestId === "string" && j.requestId && typeof j.requestedBy === "string" && j.requestedBy
        ? { requestId: j.requestId, requestedBy: j.requestedBy }
        : null;
    return invalid(who, `malformed request: ${issues(parsed.error).join("; ")}`);
  }
  const { requestId, requestedBy, body } = parsed.data;
  const who = { requestId, requestedBy };
  if (body.command !== "SET_ORDER")
    return invalid(who, `unknown command ${JSON.stringify(body.command)} (known: SET_ORDER)`);
  const rawOrder = typeof body["order"] === "string" ? body["order"] : null;
  const rawLot = typeof body["lot"] === "string" ? body["lot"] : null;
  const setOrder = SetOrderBody.safeParse(body);
  if (!setOrder.success)
    return invalid(
      who,
      `malformed SET_ORDER: ${issues(setOrder.error, "body").join("; ")}`,
      rawOrder,
      rawLot,
    );
  const { order, lot } = setOrder.data;
  const spec = target.mapping.commands?.setOrder;
  if (!spec)
    return invalid(
      who,
      `${target.key} accepts no SET_ORDER: its mapping declares no commands.setOrder`,
      order,
      lot,
    );
  for (const [name, value, rule] of [
    ["order", order, spec.orderPattern],
    ["lot", lot, spec.lotPattern],
  ] as const)
    if (value !== null && !new RegExp(rule).test(value))
      return invalid(
        who,
        `${name} ${JSON.stringify(value)} is not allowed on ${target.key}: it must match ${rule} (commands.setOrder.${name}Pattern)`,
        order,
        lot,
      );
  return { ok: true, requestId, requestedBy, spec, order, lot };

  function invalid(
    w: { requestId: string; requestedBy: string } | null,
    message: string,
    o: string | null = null,
    l: string | null = null,
  ): Checked {
    return {
      ok: false,
      who: w,
      command:
        (json as { body?: { command?: unknown } } | undefined)?.body?.command === "SET_ORDER"
          ? "SET_ORDER"
          : "UNKNOWN",
      order: o,
      lot: l,
      message,
    };
  }
}

/** What the machine answered. */
interface Execution {
  readonly outcome: Exclude<MachineCommandReply["outcome"], "INVALID">;
  readonly message: string | null;
  readonly attempts: number;
}

/**
 * Writes the order and lot and reads them back until they show, `spec.attempts` sends at most.
 * Never throws: every failure is an outcome.
 */
export async function executeSetOrder(
  target: Pick<CommandTarget, "endpoint" | "mapping">,
  spec: SetOrderCommand,
  order: string | null,
  lot: string | null,
  timing: { requestTimeoutMs: number; readBackEveryMs: number } = MACHINE_COMMANDS_DEFAULTS,
): Promise<Execution> {
  const readNodes = [target.mapping.signals.order?.nodeId, target.mapping.signals.lot?.nodeId];
  if (!readNodes[0] || !readNodes[1]) throw new Error("setOrder needs signals.order and signals.lot");
  const nodes = readNodes as [string, string];
  let attempts = 0;
  let why = "";
  while (attempts < spec.attempts) {
    const session = target.endpoint.answeringSession;
    if (!session)
      return {
        outcome: "UNCONFIRMED",
        message: `endpoint ${target.endpoint.id} is ${target.endpoint.status}${attempts === 0 ? ": nothing was written" : ` after ${attempts} attempt(s): ${why}`}`,
        attempts,
      };
    attempts++;
    try {
      const status = await sendOrder(session, spec, order, lot, timing.requestTimeoutMs);
      if (status.isNotGood())
        return {
          outcome: "REFUSED",
          message: `${status.name}${status.description ? `: ${status.description}` : ""}`,
          attempts,
        };
    } catch (err) {
      why = `no answer to the write: ${reasonOf(err)}`;
      continue;
    }
    const deadline = Date.now() + spec.confirmTimeoutMs;
    let seen: ReadBack[] = [];
    for (;;) {
      try {
        seen = await readTexts(session, nodes, timing.requestTimeoutMs);
      } catch (err) {
        why = `no answer to the read-back: ${reasonOf(err)}`;
        seen = [];
      }
      const [o, l] = seen;
      if (o && l && "value" in o && "value" in l && o.value === order && l.value === lot)
        return { outcome: "CONFIRMED", message: null, attempts };
      if (Date.now() + timing.readBackEveryMs > deadline) break;
      await sleep(timing.readBackEveryMs);
    }
    if (seen.length > 0) {
      const show = (r: ReadBack | undefined) =>
        r === undefined ? "?" : "status" in r ? r.status : JSON.stringify(r.value);
      why = `read back order ${show(seen[0])} and lot ${show(seen[1])} (not ${JSON.stringify(order)}, ${JSON.stringify(lot)}) ${spec.confirmTimeoutMs} ms after the write`;
    }
  }
  return { outcome: "UNCONFIRMED", message: `${why} (${attempts} attempt(s))`, attempts };
}

/** The answer of a replica that no longer owns the machine's endpoint: nothing written, nothing audited. */
function notOwnerReply(target: CommandTarget, requestId: string): MachineCommandReply {
  return {
    requestId,
    outcome: "UNCONFIRMED",
    message: `nothing was written: this bridge replica no longer owns endpoint ${target.endpoint.id} of ${target.key}; send the request again (same requestId), its owner answers it`,
    attempts: 0,
    auditEventId: null,
  };
}

interface Remembered {
  /** The request as received (a different command under the same id is refused). */
  readonly body: string;
  readonly done: Promise<{ reply: MachineCommandReply; audit: (() => Promise<void>) | null }>;
}

/** Subscribes to the command subjects of the bridge's machines and answers them. */
export class MachineCommandServer {
  /** Machine key → its subscription. */
  readonly #subs = new Map<string, Subscription>();
  /** `<machine key> <requestId>` → the request and its reply (insertion order: oldest first). */
  readonly #remembered = new Map<string, Remembered>();
  /** Per machine, the last command queued (commands to one machine run one at a time). */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #inFlight = new Set<Promise<unknown>>();

  private constructor(private readonly options: MachineCommandsOptions) {}

  static start(options: MachineCommandsOptions): MachineCommandServer {
    const server = new MachineCommandServer(options);
    server.serve(options.targets);
    return server;
  }

  /** Answers the commands of these machines from now on (their endpoint was acquired). */
  serve(targets: readonly CommandTarget[]): void {
    const { nc, logger, queue } = this.options;
    for (const target of targets) {
      const { site, line, machine } = target.equipment;
      this.#subs.get(target.key)?.unsubscribe();
      const sub = nc.subscribe(machineCommandSubject(site, line, machine), {
        ...(queue ? { queue } : {}),
        callback: (err, msg) => {
          if (err) {
            logger.error({ err, machine: target.key }, "command subscription failed");
            return;
          }
          const work = this.#answer(target, msg);
          this.#inFlight.add(work);
          void work.finally(() => this.#inFlight.delete(work));
        },
      });
      this.#subs.set(target.key, sub);
    }
  }

  /** Takes no more commands for these machines (their endpoint was lost); those being executed go on. */
  release(keys: readonly string[]): void {
    for (const key of keys) {
      this.#subs.get(key)?.unsubscribe();
      this.#subs.delete(key);
    }
  }

  /** Takes no more commands and waits (bounded) for those being executed. */
  async stop(): Promise<void> {
    for (const s of this.#subs.values()) s.unsubscribe();
    this.#subs.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise((r) => {
        timer = setTimeout(r, MACHINE_COMMANDS_DEFAULTS.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async #answer(target: CommandTarget, msg: Msg): Promise<void> {
    const { logger } = this.options;
    const requestedAt = new Date();
    if (target.owns && !target.owns()) {
      this.#notOwner(target, msg);
      return;
    }
    const checked = checkRequest(msg.data, target);
    const who = checked.ok ? { requestId: checked.requestId, requestedBy: checked.requestedBy } : checked.who;
    if (!checked.ok && !who) {
      // Nothing to audit under: answered, counted and logged only.
      this.options.metrics.commands.inc({ command: checked.command, outcome: "INVALID" });
      logger.warn({ machine: target.key, reason: checked.message }, "machine command refused unread");
      this.#respond(msg, {
        requestId: "",
        outcome: "INVALID",
        message: checked.message,
        attempts: 0,
        auditEventId: null,
      });
      return;
    }
    if (!who) return;
    const key = `${target.key} ${who.requestId}`;
    const body = new TextDecoder().decode(msg.data);
    const seen = this.#remembered.get(key);
    if (seen) {
      // A re-sent request: the first reply, nothing written again; an audit not stored yet is retried.
      if (seen.body !== body) {
        this.#respond(msg, {
          requestId: who.requestId,
          outcome: "INVALID",
          message: `requestId ${who.requestId} was already used for another command to ${target.key}: nothing written`,
          attempts: 0,
          auditEventId: null,
        });
        return;
      }
      const first = await seen.done;
      await first.audit?.();
      this.#respond(msg, first.reply);
      return;
    }
    const done = this.#run(target, checked, who, requestedAt);
    this.#remember(key, { body, done });
    const result = await done;
    // Not executed: a re-send after this replica owns the endpoint again must be executed then.
    if (result.reply.attempts === 0 && result.reply.auditEventId === null) this.#remembered.delete(key);
    await result.audit?.();
    this.#respond(msg, result.reply);
  }

  /** Executes (after the machine's earlier commands), then prepares the audit; never throws. */
  #run(
    target: CommandTarget,
    checked: Checked,
    who: { requestId: string; requestedBy: string },
    requestedAt: Date,
  ): Remembered["done"] {
    const previous = this.#queues.get(target.key) ?? Promise.resolve();
    const run = previous.then(async () => {
      // Deposed while the request waited behind the machine's earlier commands: not executed here.
      if (target.owns && !target.owns()) return { reply: notOwnerReply(target, who.requestId), audit: null };
      const execution: Execution | { outcome: "INVALID"; message: string; attempts: 0 } = checked.ok
        ? await executeSetOrder(target, checked.spec, checked.order, checked.lot).catch((err: unknown) => ({
            outcome: "UNCONFIRMED" as const,
            message: `the write failed: ${reasonOf(err)}`,
            attempts: 1,
          }))
        : { outcome: "INVALID", message: checked.message, attempts: 0 };
      const answeredAt = new Date();
      const auditEventId = derivedEventId("machine-command", target.key, who.requestId);
      const command = checked.ok ? "SET_ORDER" : checked.command;
      this.options.metrics.commands.inc({ command, outcome: execution.outcome });
      this.options.logger[execution.outcome === "CONFIRMED" ? "info" : "warn"](
        {
          machine: target.key,
          requestId: who.requestId,
          requestedBy: who.requestedBy,
          command,
          outcome: execution.outcome,
          attempts: execution.attempts,
          reason: execution.message,
        },
        `machine command ${command} to ${target.key}: ${execution.outcome}`,
      );
      const reply: MachineCommandReply = {
        requestId: who.requestId,
        outcome: execution.outcome,
        message: execution.message,
        attempts: execution.attempts,
        auditEventId,
      };
      let stored = false;
      const audit = async () => {
        if (stored) return;
        try {
          await this.options.publisher.forSite(target.equipment.site).publish(
            "mfg.machine.machine_command_executed.v1",
            {
              equipment: target.equipment,
              command,
              order: checked.order,
              lot: checked.lot,
              requestedBy: `${who.requestedBy}/${who.requestId}`,
              outcome: execution.outcome,
              message: execution.message,
              attempts: execution.attempts,
              requestedAt,
              answeredAt,
            },
            {
              site: target.equipment.site,
              line: target.equipment.line,
              machine: target.equipment.machine,
              key: target.key,
              id: auditEventId,
              time: answeredAt,
            },
          );
          stored = true;
        } catch (err) {
          // Answered anyway (the write happened or not, whatever the audit): a re-send publishes it again.
          this.options.logger.error(
            { err, machine: target.key, requestId: who.requestId, auditEventId },
            "machine command audit not stored: published again when the request is re-sent",
          );
        }
      };
      return { reply, audit };
    });
    const settled = run.catch(() => undefined);
    this.#queues.set(target.key, settled);
    void settled.then(() => {
      if (this.#queues.get(target.key) === settled) this.#queues.delete(target.key);
    });
    return run;
  }

  /** Answered without writing, auditing or remembering: the owner of the endpoint executes a re-send. */
  #notOwner(target: CommandTarget, msg: Msg): void {
    let requestId = "";
    try {
      const id = (JSON.parse(new TextDecoder().decode(msg.data)) as { requestId?: unknown }).requestId;
      if (typeof id === "string") requestId = id;
    } catch {
      // Not JSON: the owner would say INVALID; this replica only says it is not the one to ask.
    }
    this.options.metrics.commands.inc({ command: "UNKNOWN", outcome: "UNCONFIRMED" });
    this.options.logger.warn(
      { machine: target.key, requestId, endpoint: target.endpoint.id },
      "machine command refused: this replica no longer owns the machine's endpoint",
    );
    this.#respond(msg, notOwnerReply(target, requestId));
  }

  #remember(key: string, entry: Remembered): void {
    this.#remembered.set(key, entry);
    while (this.#remembered.size > MACHINE_COMMANDS_DEFAULTS.rememberedRequests) {
      const oldest = this.#remembered.keys().next().value;
      if (oldest === undefined) break;
      this.#remembered.delete(oldest);
    }
  }

  #respond(msg: Msg, reply: MachineCommandReply): void {
    if (!msg.reply) return; // published, not requested: executed and audited, nobody to answer
    try {
      msg.respond(JSON.stringify(reply));
    } catch (err) {
      this.options.logger.warn({ err, requestId: reply.requestId }, "machine command reply not sent");
    }
  }
}
