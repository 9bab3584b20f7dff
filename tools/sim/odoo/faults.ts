/**
 * Fault injection, controllable at runtime: latency (fixed or random), reverse-proxy error pages
 * (nginx-style HTML 502/503/504), PostgreSQL serialization failures as Odoo returns them after its
 * retries, timeouts (the request is accepted and never answered), expired sessions and outage
 * windows (listener closed: connection refused; or every request answered 503). Each rule applies
 * with a probability and/or to the next N matching calls, optionally only for a model, a method or a
 * protocol. Draws come from a seeded PRNG, so a run with the same seed and calls is reproducible.
 */
import { z } from "zod";
import { type Random, seededRandom } from "./prng.js";
import type { Protocol } from "./service.js";

export const FAULT_KINDS = [
  "latency",
  "http_error",
  "serialization_failure",
  "timeout",
  "session_expired",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FaultRuleSchema = z
  .object({
    kind: z.enum(FAULT_KINDS),
    /** Chance that a matching call is affected. @default 1 */
    probability: z.number().min(0).max(1).default(1),
    /** Affect only the next N matching calls (then the rule retires). @default unlimited */
    times: z.number().int().positive().optional(),
    /** Only calls on this model (object service / JSON-2). */
    model: z.string().min(1).optional(),
    /** Only this method: the model method (`search_read`) or a service method (`login`, `version`). */
    method: z.string().min(1).optional(),
    /** Only this protocol. */
    protocol: z.enum(["jsonrpc", "xmlrpc", "json2", "web"]).optional(),
    /** latency: milliseconds, fixed or a [min, max] range drawn per call. */
    latencyMs: z
      .union([
        z.number().int().nonnegative(),
        z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
      ])
      .optional(),
    /** http_error: the status of the proxy page. @default 502 */
    status: z.union([z.literal(502), z.literal(503), z.literal(504)]).default(502),
  })
  .strict()
  .refine((r) => r.kind !== "latency" || r.latencyMs !== undefined, {
    message: "a latency rule needs latencyMs",
  });

export type FaultRuleInput = z.input<typeof FaultRuleSchema>;
export type FaultRule = z.output<typeof FaultRuleSchema> & { id: string; hits: number };

export const OutageSchema = z
  .object({
    /** refuse: close the listener (connection refused); 503: answer every request with the proxy page. */
    mode: z.enum(["refuse", "503"]).default("refuse"),
    /** How long; omitted means until `endOutage()`. */
    durationMs: z.number().int().positive().optional(),
  })
  .strict();
export type OutageInput = z.input<typeof OutageSchema>;

/** What the call being served (identified by protocol, model, method) looks like to the rules. */
export interface CallKey {
  protocol: Protocol;
  service: string;
  method: string;
  model?: string;
}

export type FaultAction =
  | { kind: "http_error"; status: 502 | 503 | 504 }
  | { kind: "serialization_failure" }
  | { kind: "timeout" }
  | { kind: "session_expired" };

export interface FaultDecision {
  latencyMs: number;
  action?: FaultAction;
  /** Ids of the rules that applied. */
  rules: string[];
}

/** Hooks the HTTP server provides for outage windows. */
export interface OutageHooks {
  begin(mode: "refuse" | "503"): Promise<void>;
  end(): Promise<void>;
}

export interface FaultController {
  /** Adds a rule; returns its id. */
  add(rule: FaultRuleInput): string;
  remove(id: string): boolean;
  /** Removes every rule and ends an outage. */
  clear(): Promise<void>;
  list(): FaultRule[];
  /** Starts an outage window now; resolves once the listener is closed (refuse) or the 503 mode is on. */
  outage(opts?: OutageInput): Promise<void>;
  endOutage(): Promise<void>;
  readonly outageMode: "refuse" | "503" | undefined;
}

export class Faults implements FaultController {
  private rules: FaultRule[] = [];
  private nextId = 1;
  private readonly random: Random;
  private outageTimer: NodeJS.Timeout | undefined;
  private mode: "refuse" | "503" | undefined;
  private hooks: OutageHooks | undefined;

  constructor(seed: number) {
    this.random = seededRandom(seed ^ 0x5eed);
  }

  attach(hooks: OutageHooks): void {
    this.hooks = hooks;
  }

  get outageMode(): "refuse" | "503" | undefined {
    return this.mode;
  }

  add(input: FaultRuleInput): string {
    const rule = FaultRuleSchema.parse(input);
    const id = `f${this.nextId++}`;
    this.rules.push({ ...rule, id, hits: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  async clear(): Promise<void> {
    this.rules = [];
    await this.endOutage();
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  async outage(input: OutageInput = {}): Promise<void> {
    const opts = OutageSchema.parse(input);
    await this.endOutage();
    this.mode = opts.mode;
    await this.hooks?.begin(opts.mode);
    // Not unref'd: during a "refuse" outage nothing else may hold the process (the listener is
    // closed), and the promise to reopen must keep it alive.
    if (opts.durationMs !== undefined)
      this.outageTimer = setTimeout(() => void this.endOutage(), opts.durationMs);
  }

  async endOutage(): Promise<void> {
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = undefined;
    if (this.mode === undefined) return;
    this.mode = undefined;
    await this.hooks?.end();
  }

  /** Decides what happens to one call; consumes the `times` budget of the rules that apply. */
  decide(call: CallKey): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, rules: [] };
    for (const rule of [...this.rules]) {
      if (rule.model !== undefined && rule.model !== call.model) continue;
      if (rule.method !== undefined && rule.method !== call.method) continue;
      if (rule.protocol !== undefined && rule.protocol !== call.protocol) continue;
      if (rule.kind !== "latency" && decision.action) continue;
      if (rule.probability < 1 && this.random() >= rule.probability) continue;
      rule.hits++;
      decision.rules.push(rule.id);
      if (rule.times !== undefined && rule.hits >= rule.times) this.remove(rule.id);
      switch (rule.kind) {
        case "latency": {
          const l = rule.latencyMs ?? 0;
          decision.latencyMs += Array.isArray(l) ? l[0] + Math.floor(this.random() * (l[1] - l[0] + 1)) : l;
          break;
        }
        case "http_error":
          decision.action = { kind: "http_error", status: rule.status };
          break;
        default:
          decision.action = { kind: rule.kind };
      }
    }
    return decision;
  }
}

/** The body nginx serves for a gateway error, as a client behind the proxy sees it. */
export function proxyErrorPage(status: 502 | 503 | 504): string {
  const text = { 502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out" }[
    status
  ];
  return (
    `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n` +
    `<center><h1>${status} ${text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
  );
}
