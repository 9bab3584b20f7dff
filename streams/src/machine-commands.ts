/**
 * Commands to machines, through the machine bridge: the one narrow write path from Threadline to the
 * shop floor. A service (the production orchestrator) sends a command as a core NATS request on the
 * machine's command subject; the bridge that owns the machine validates it against its mapping
 * (only declared commands, only allowed values), writes it over OPC UA, reads the machine's answer
 * back, publishes the audit (MachineCommandExecuted) and replies with the outcome. Nothing is
 * assumed: a reply that is not CONFIRMED is the caller's to retry or escalate.
 *
 * Subjects: `threadline.cmd.machine.<site>.<line>.<machine>` (tokens as in event subjects). Only
 * services whose manifest declares `access.commands` may publish there; only the bridge subscribes
 * (each bridge to its own machines' subjects, so two bridges of a site never answer for each other),
 * and it may answer only the requests it received (nats-server `allow_responses`). A machine no
 * bridge maps has no responder: nats.js throws NoRespondersError at once.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { sanitizeToken } from "./envelope.js";

/** The command subject of one machine. */
export function machineCommandSubject(site: string, line: string, machine: string): string {
  return [
    "threadline",
    "cmd",
    "machine",
    sanitizeToken(site),
    sanitizeToken(line),
    sanitizeToken(machine),
  ].join(".");
}

/** Every machine's command subjects (a sender's permission). */
export const MACHINE_COMMANDS_ALL = "threadline.cmd.machine.>";

/** Set the order and lot the machine runs (null clears one). */
export interface SetOrderCommand {
  readonly command: "SET_ORDER";
  readonly order: string | null;
  readonly lot: string | null;
}

export type MachineCommandBody = SetOrderCommand;

/** A command request as sent (JSON). */
export interface MachineCommandRequest {
  /** Unique per command; a request re-sent with the same id is not executed twice (the same reply). */
  readonly requestId: string;
  /** The asking service, for the audit. */
  readonly requestedBy: string;
  readonly body: MachineCommandBody;
}

/** The bridge's reply (JSON). */
export interface MachineCommandReply {
  readonly requestId: string;
  /** CONFIRMED: written and read back; REFUSED: the machine said no; UNCONFIRMED: no answer or a different read-back; INVALID: refused before any write. */
  readonly outcome: "CONFIRMED" | "REFUSED" | "UNCONFIRMED" | "INVALID";
  /** Why, when not CONFIRMED. */
  readonly message: string | null;
  readonly attempts: number;
  /**
   * The ce-id of the MachineCommandExecuted audit event; null when nothing could be audited (a
   * request that is not JSON or names no requestId/requestedBy: INVALID, nothing written).
   */
  readonly auditEventId: string | null;
}

export interface SendMachineCommandOptions {
  /**
   * How long to wait for the bridge's reply: longer than the bridge may take (attempts × (write +
   * confirmation window): 3 × (2 s + 3 s) with the mapping's defaults). @default 20000
   */
  readonly timeoutMs?: number;
}

/**
 * Sends a command and waits for the bridge's reply. No bridge listening, or no reply in time,
 * throws (nats.js's NoResponders / timeout): the caller retries with the same `requestId`.
 */
export async function sendMachineCommand(
  nc: NatsConnection,
  target: { readonly site: string; readonly line: string; readonly machine: string },
  request: MachineCommandRequest,
  options: SendMachineCommandOptions = {},
): Promise<MachineCommandReply> {
  const reply = await nc.request(
    machineCommandSubject(target.site, target.line, target.machine),
    JSON.stringify(request),
    { timeout: options.timeoutMs ?? 20_000 },
  );
  return reply.json<MachineCommandReply>();
}
