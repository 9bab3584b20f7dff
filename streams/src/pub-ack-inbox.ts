/**
 * JetStream publishes awaiting their PubAck on one inbox of our own per connection.
 *
 * nats.js sends every `js.publish` as a request (nats-core 3.4 `request.js` `RequestOne`): a timer
 * and a deferred per publish, a `Promise.race` of the two, and on every completed request a
 * `RequestError("cancelled")` built with its stack trace (`RequestOne.cancel`), only to reject a
 * promise no one reads. That was about a sixth of the SDK's publishing CPU (BENCHMARKS.md, "sdk").
 * Here a publish is an entry in a map, answered by one wildcard subscription; deadlines are swept by
 * one timer per connection, armed for the oldest publish.
 *
 * Every outcome is the error nats.js gives for it, so {@link classifyPublishError} (and the retry
 * policy built on it) is unchanged: `TimeoutError` when no PubAck came in time; `JetStreamNotEnabled`
 * when no stream took the subject (a 503 "no responders" reply, `jsclient.js` `_publish`);
 * `JetStreamApiError` (and its subclasses) when the stream refused the message (`parseJsResponse`);
 * a `RequestError` caused by the `PermissionViolationError` when the server refuses the subject
 * (`muxsubscription.js` `handleError`) — here every publish awaiting on that subject fails at once,
 * where nats.js fails the first and lets the others time out; `RequestError("connection closed")`
 * when the connection closes (`MuxSubscription.close`). A reply after the deadline is dropped, as
 * nats.js drops it.
 */
import type { PubAck } from "@nats-io/jetstream";
import { JetStreamApiCodes, JetStreamApiError, JetStreamError, jserrors } from "@nats-io/jetstream/internal";
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  errors as natsErrors,
  type Subscription,
} from "@nats-io/nats-core";

/** A publish awaiting its PubAck. */
interface Waiting {
  readonly subject: string;
  readonly deadline: number;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: unknown) => void;
}

/** What nats.js keeps on a connection and we read: its inbox prefix (nats-core `NatsConnectionImpl`). */
interface ConnectionInternals {
  readonly options?: { readonly inboxPrefix?: string };
}

const inboxes = new WeakMap<NatsConnection, PubAckInbox>();

export class PubAckInbox {
  readonly #nc: NatsConnection;
  readonly #prefix: string | undefined;
  readonly #waiting = new Map<string, Waiting>();
  /** Timeouts in use: with one, the map's order is the deadlines' order and a sweep stops early. */
  readonly #timeouts = new Set<number>();
  #sub: Subscription | undefined;
  #base = "";
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since the epoch). */
  #timerAt = Number.POSITIVE_INFINITY;
  #watching = false;

  /**
   * The inbox of `nc`, shared by every publisher on it; undefined when `nc` is not nats.js's
   * connection as we know it (then publishing goes through `js.publish`).
   */
  static of(nc: NatsConnection | undefined): PubAckInbox | undefined {
    if (!nc || typeof nc.publish !== "function" || typeof nc.subscribe !== "function") return undefined;
    const options = (nc as ConnectionInternals).options;
    if (options === undefined) return undefined;
    let inbox = inboxes.get(nc);
    if (!inbox) {
      inbox = new PubAckInbox(nc, options.inboxPrefix);
      inboxes.set(nc, inbox);
    }
    return inbox;
  }

  private constructor(nc: NatsConnection, prefix: string | undefined) {
    this.#nc = nc;
    this.#prefix = prefix;
  }

  /** Publishes awaiting their PubAck on this connection. */
  get pending(): number {
    return this.#waiting.size;
  }

  /** Sends `data` to `subject` with `headers` and resolves with the stream's PubAck. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<PubAck> {
    let waiting: Waiting | undefined;
    const acked = new Promise<PubAck>((resolve, reject) => {
      waiting = { subject, deadline: Date.now() + timeoutMs, resolve, reject };
    });
    const w = waiting as Waiting;
    try {
      const token = (this.#next++).toString(36);
      const reply = this.#subscribed() + token;
      this.#waiting.set(token, w);
      this.#timeouts.add(timeoutMs);
      // Publishers with a shorter timeout may share the connection: the timer fires at the earliest deadline.
      if (w.deadline < this.#timerAt) this.#arm(w.deadline, Date.now());
      try {
        this.#nc.publish(subject, data, { headers, reply });
      } catch (err) {
        this.#waiting.delete(token);
        throw err;
      }
    } catch (err) {
      w.reject(err); // closed, draining, too large, a bad subject or header: nothing was sent
    }
    return acked;
  }

  /** The reply subjects' common part, subscribing first if needed. */
  #subscribed(): string {
    if (this.#sub) return this.#base;
    const base = `${createInbox(this.#prefix)}.`;
    this.#sub = this.#nc.subscribe(`${base}*`, { callback: (err, msg) => this.#reply(err, msg) });
    this.#base = base;
    this.#watch();
    return base;
  }

  #reply(err: Error | null, msg: Msg): void {
    if (err) {
      // The subscription itself was refused (the inbox is not allowed): nothing can be answered.
      this.#sub = undefined;
      this.#failAll(new natsErrors.RequestError(err.message, { cause: err }));
      return;
    }
    const token = msg.subject.slice(this.#base.length);
    const w = this.#waiting.get(token);
    if (!w) return; // answered after its deadline: the publisher has already retried with the same id
    this.#waiting.delete(token);
    try {
      w.resolve(pubAckOf(msg, w.subject));
    } catch (e) {
      w.reject(e);
    }
  }

  /** Rejects what is past its deadline and arms the timer for the next one. An arrow: passed as is. */
  readonly #sweep = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const ordered = this.#timeouts.size === 1;
    let next = Number.POSITIVE_INFINITY;
    for (const [token, w] of this.#waiting) {
      if (w.deadline <= now) {
        this.#waiting.delete(token);
        w.reject(new natsErrors.TimeoutError());
      } else {
        next = Math.min(next, w.deadline);
        if (ordered) break;
      }
    }
    if (this.#waiting.size === 0) this.#timeouts.clear();
    else this.#arm(next, now);
  };

  #arm(at: number, now: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweep, Math.max(1, at - now));
  }

  #failAll(err: Error): void {
    const all = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#timeouts.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const w of all) w.reject(err);
  }

  /** Permission refusals of a publish subject, and the connection's end. */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    void (async () => {
      for await (const s of this.#nc.status()) {
        if (s.type !== "error" || !(s.error instanceof natsErrors.PermissionViolationError)) continue;
        const pe = s.error;
        if (pe.operation !== "publish") continue;
        for (const [token, w] of this.#waiting)
          if (w.subject === pe.subject) {
            this.#waiting.delete(token);
            w.reject(new natsErrors.RequestError(pe.message, { cause: pe }));
          }
      }
    })().catch(() => undefined);
    void this.#nc.closed().then(() => {
      this.#sub = undefined;
      this.#failAll(new natsErrors.RequestError("connection closed"));
    });
  }
}

/**
 * The PubAck in a reply, or the error nats.js gives for it (jetstream 3.4 `jsclient.js` `publish`,
 * `jsbaseclient_api.js` `parseJsResponse`).
 */
function pubAckOf(msg: Msg, subject: string): PubAck {
  if (msg.data.length === 0 && (msg.headers as MsgHdrs | undefined)?.code === 503)
    throw new jserrors.JetStreamNotEnabled("jetstream is not enabled", {
      cause: new natsErrors.NoRespondersError(subject),
    });
  const r = msg.json<PubAck & { error?: ConstructorParameters<typeof JetStreamApiError>[0] }>();
  if (r.error) {
    switch (r.error.err_code) {
      case JetStreamApiCodes.StreamNotFound:
        throw new jserrors.StreamNotFoundError(r.error);
      case JetStreamApiCodes.JetStreamNotEnabledForAccount: {
        const cause = new JetStreamApiError(r.error);
        throw new jserrors.JetStreamNotEnabled(cause.message, { cause });
      }
      default:
        throw new JetStreamApiError(r.error);
    }
  }
  if (!r.stream) throw new JetStreamError("invalid ack response");
  r.duplicate = r.duplicate === true;
  return r;
}
