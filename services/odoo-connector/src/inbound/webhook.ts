/**
 * `POST /odoo/webhook/<token>`: Odoo's automated action "Send Webhook Notification" (Odoo 17+) as a
 * low-latency trigger of the inbound sync.
 *
 * Odoo posts `{"_action": "<name>(#<id>)", "_id": <record id>, "_model": "<model>", …selected fields}`
 * as JSON, unsigned, with a 1 s timeout and no retry. So:
 * - the only credential is the secret token in the path, compared in constant time; a wrong token gets
 *   the same 404 as a route that does not exist (checked before the body is even parsed);
 * - the payload is never used as data: it only names the model whose sync runs a pass now. What is
 *   published comes from reading Odoo, so a forged or replayed webhook can at most cause a read;
 * - the answer is immediate (200), the pass runs after it, and another one a moment later (Odoo 17
 *   sends the webhook before its transaction commits; 18+ after); a lost webhook only delays the change
 *   to the next poll.
 *
 * Configure it in Odoo: Settings → Technical → Automation Rules, on the model (mrp.production,
 * stock.picking, stock.move, stock.move.line, stock.lot), trigger "On create and edit", action
 * "Send Webhook Notification", URL `https://<connector>/odoo/webhook/<WEBHOOK_TOKEN>`, no fields needed.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { ConfigError, type Logger, silentLogger } from "../../../../streams/src/index.js";

/** What the webhook drives: InboundSync's `trigger`. */
export interface WebhookTarget {
  trigger(model: string): string[];
}

export interface OdooWebhookOptions {
  /** The secret path token (WEBHOOK_TOKEN), at least 24 characters. */
  token: string;
  sync: WebhookTarget;
  /** The route's path prefix. @default "/odoo/webhook" */
  prefix?: string;
  /** Largest body accepted (Odoo sends the selected fields of one record). @default 262144 */
  bodyLimit?: number;
  /** @default a silent logger */
  logger?: Logger;
}

export const MIN_WEBHOOK_TOKEN_LENGTH = 24;

/** The part of Odoo's webhook body the connector looks at; any other member is allowed and ignored. */
export const OdooWebhookBody = z.looseObject({
  _model: z
    .string({ error: "is required: the Odoo model name, e.g. mrp.production" })
    .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, "must be an Odoo model name, e.g. mrp.production"),
  _id: z.number({ error: "is required: the record id, an integer" }).int("must be an integer").positive(),
  _action: z.string().optional(),
});

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Registers the webhook route on `app` (the service's HTTP server). */
export function registerOdooWebhook(app: FastifyInstance, options: OdooWebhookOptions): void {
  if (typeof options.token !== "string" || options.token.length < MIN_WEBHOOK_TOKEN_LENGTH)
    throw new ConfigError(
      "WEBHOOK_TOKEN",
      `must be at least ${MIN_WEBHOOK_TOKEN_LENGTH} characters (it is the webhook's only credential)`,
    );
  const want = digest(options.token);
  const log = (options.logger ?? silentLogger).child({ component: "odoo-webhook" });
  const prefix = (options.prefix ?? "/odoo/webhook").replace(/\/+$/, "");

  const checkToken = async (req: FastifyRequest, reply: FastifyReply) => {
    const given = (req.params as { token?: string }).token ?? "";
    // Hashing first makes the comparison constant-time whatever the length given.
    if (!timingSafeEqual(digest(given), want)) {
      log.warn({ ip: req.ip }, "webhook refused: wrong token");
      return reply.callNotFound();
    }
  };

  app.post(
    `${prefix}/:token`,
    { onRequest: checkToken, bodyLimit: options.bodyLimit ?? 256 * 1024 },
    async (req, reply) => {
      const parsed = OdooWebhookBody.safeParse(req.body);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .map((i) => `${i.path.length > 0 ? i.path.join(".") : "body"}: ${i.message}`)
          .join("; ");
        return reply.code(400).send({
          error: "invalid Odoo webhook body",
          detail,
          expected: 'a JSON object with "_model" (e.g. "mrp.production") and "_id" (an integer)',
        });
      }
      const { _model: model, _id: id } = parsed.data;
      const resync = options.sync.trigger(model);
      log.debug({ model, id, resync }, "webhook received");
      return reply.code(200).send({ status: resync.length > 0 ? "accepted" : "ignored", resync });
    },
  );
}
