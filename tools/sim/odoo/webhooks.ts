/**
 * Automated actions of type "Send Webhook Notification" (Odoo 17+), as
 * `odoo/addons/base/models/ir_actions.py` `_run_action_webhook` sends them: a POST of
 * `json.dumps({"_action": "<name>(#<id>)", "_id": id, "_model": model, **record.read(fields, load=None)[0]},
 * sort_keys=True, default=str)` with `Content-Type: application/json`, no signature, a 1 s timeout,
 * no retry (failures and timeouts are only logged). The record is read inside the transaction; the
 * request is sent before the RPC call answers.
 */
import type { Env, TxEvent, Vals } from "./orm.js";
import { pyJsonDumps } from "./py.js";

export interface WebhookRule {
  /** Model whose records trigger the action, e.g. `mrp.production`. */
  model: string;
  /** Trigger: on creation, on update, or both (base.automation on_create / on_write / on_create_or_write). */
  on: "create" | "write" | "create_or_write";
  url: string;
  /** Fields sent with the notification (`webhook_field_ids`). @default [] (only _action, _id, _model) */
  fields?: string[];
  /** Only updates touching one of these fields trigger it (`trigger_field_ids`). @default any field */
  triggerFields?: string[];
  /** Server action name, shown in `_action`. @default "Threadline webhook <n>" */
  name?: string;
}

export interface WebhookDelivery {
  at: Date;
  url: string;
  /** Exactly the bytes sent. */
  body: string;
  payload: Vals;
  /** HTTP status received, when an answer came within the timeout. */
  status?: number;
  /** "timeout" or the network error; Odoo only logs it. */
  error?: string;
  durationMs: number;
}

export interface PendingWebhook {
  url: string;
  payload: Vals;
  body: string;
}

/** Action ids of the configured webhooks start here (ir.actions.server ids in a fresh database). */
const FIRST_ACTION_ID = 700;

export class WebhookDispatcher {
  readonly deliveries: WebhookDelivery[] = [];

  constructor(
    private readonly rules: readonly WebhookRule[],
    private readonly timeoutMs = 1000,
  ) {}

  get configured(): readonly WebhookRule[] {
    return this.rules;
  }

  /** Payloads of the automations triggered by a transaction's events, read in that transaction. */
  collect(env: Env, events: readonly TxEvent[]): PendingWebhook[] {
    const out: PendingWebhook[] = [];
    this.rules.forEach((rule, index) => {
      const fired = new Set<number>();
      for (const ev of events) {
        if (ev.model !== rule.model || fired.has(ev.id)) continue;
        const matches =
          rule.on === "create_or_write" ||
          (rule.on === "create" && ev.kind === "create") ||
          (rule.on === "write" && ev.kind === "write");
        if (!matches) continue;
        if (
          ev.kind === "write" &&
          rule.triggerFields &&
          !ev.fields.some((f) => rule.triggerFields?.includes(f))
        )
          continue;
        if (
          rule.on === "write" &&
          events.some((e) => e.kind === "create" && e.model === ev.model && e.id === ev.id)
        )
          continue;
        if (!env.exists(rule.model, ev.id)) continue;
        fired.add(ev.id);
        const actionId = FIRST_ACTION_ID + index;
        const payload: Vals = {
          _action: `${rule.name ?? `Threadline webhook ${index + 1}`}(#${actionId})`,
          _id: ev.id,
          _model: rule.model,
        };
        if (rule.fields && rule.fields.length > 0)
          Object.assign(payload, env.read(rule.model, [ev.id], rule.fields, null)[0]);
        out.push({ url: rule.url, payload, body: pyJsonDumps(payload) });
      }
    });
    return out;
  }

  /** Sends them one after the other, each with the 1 s timeout, never retrying. */
  async deliver(pending: readonly PendingWebhook[]): Promise<void> {
    for (const hook of pending) {
      const started = Date.now();
      const delivery: WebhookDelivery = {
        at: new Date(),
        url: hook.url,
        body: hook.body,
        payload: hook.payload,
        durationMs: 0,
      };
      try {
        const res = await fetch(hook.url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: hook.body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        delivery.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        const e = err as Error;
        delivery.error =
          e.name === "TimeoutError" || e.name === "AbortError"
            ? "timeout"
            : ((e.cause as Error | undefined)?.message ?? e.message);
      }
      delivery.durationMs = Date.now() - started;
      this.deliveries.push(delivery);
    }
  }
}
