/**
 * The Odoo client of the connector: connects once (version, database, credentials), then calls
 * model methods over JSON-2 (Odoo 19+) or JSON-RPC (16–18), with named arguments either way.
 *
 * Every request passes the limiter (concurrency and rate), transient failures are retried when that
 * is safe (see retry.ts), and a circuit breaker refuses calls while Odoo is down so the connector can
 * pause its consumers. Logs carry model, method, duration and outcome — never arguments or secrets.
 *
 *     const odoo = await OdooClient.connect({ url, db, login, apiKey, logger, registry });
 *     const orders = await odoo.searchRead("mrp.production", [["state", "=", "confirmed"]], { fields: ["name"] });
 *     odoo.breaker.onChange((state) => (state === "open" ? consumer.pause() : consumer.resume()));
 */
import { performance } from "node:perf_hooks";
import { type Logger, sleep } from "../../../../streams/src/index.js";
import { type BreakerState, CircuitBreaker } from "./breaker.js";
import { ACCESS_DENIED, CIRCUIT_OPEN, CLOSED, OdooError, SESSION_EXPIRED } from "./errors.js";
import { authenticate, chooseProtocol, probeVersion, type ServerVersion } from "./handshake.js";
import { Limiter, LimiterClosedError } from "./limiter.js";
import { BREAKER_STATE_VALUE, type OdooClientMetrics, odooClientMetrics } from "./metrics.js";
import { type OdooClientOptions, parseOptions, type ResolvedOptions } from "./options.js";
import { isIdempotent, isRetryable, retryDelay, retryReason } from "./retry.js";
import {
  createTransport,
  type Endpoint,
  type OdooRequest,
  type Protocol,
  type Transport,
} from "./transport.js";

export type { OdooClientOptions } from "./options.js";

/** Named arguments of a model method, plus the records (`ids`) and the `context`. */
export interface CallParams {
  ids?: number[];
  context?: Record<string, unknown>;
  [name: string]: unknown;
}

export interface CallOptions {
  /**
   * The call can safely run twice (then timeouts and resets are retried too).
   * @default true for reads (search, search_read, read, search_count, fields_get, name_search, …), else false
   */
  idempotent?: boolean;
}

export interface SearchOptions {
  order?: string;
  limit?: number;
  offset?: number;
  context?: Record<string, unknown>;
}

export interface SearchReadOptions extends SearchOptions {
  /** @default all fields */
  fields?: string[];
}

export interface WriteOptions {
  context?: Record<string, unknown>;
  /** See CallOptions. @default false */
  idempotent?: boolean;
  /**
   * The client may send the write again after a transient failure that proves it was not applied.
   * `false` for a value computed from a read (a quantity added to): sent again later, it could
   * overwrite what changed in between, so the failure goes back to the caller, who reads again.
   * @default true
   */
  retry?: boolean;
}

export class OdooClient {
  /** The circuit breaker in front of Odoo; pause consumers while it is open. */
  readonly breaker: CircuitBreaker;
  private readonly limiter: Limiter;
  private readonly transport: Transport;
  private readonly metrics: OdooClientMetrics;
  private readonly log: Logger;
  /** Wakes retry back-offs when the client closes. */
  private readonly closing = new AbortController();
  private readonly pending = new Set<Promise<unknown>>();
  private reauth: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly options: ResolvedOptions,
    endpoint: Endpoint,
    /** The server's version, e.g. `{ major: 17, serverVersion: "17.0" }`. */
    readonly version: ServerVersion,
    /** The protocol in use: JSON-2 on 19+, JSON-RPC below (unless `protocol` said otherwise). */
    readonly protocol: Protocol,
    uid: number,
  ) {
    this.log = options.logger.child({ component: "odoo-client" });
    this.metrics = odooClientMetrics(options.registry);
    this.transport = createTransport(protocol, endpoint, uid);
    this.limiter = new Limiter({ concurrency: options.concurrency, ratePerSecond: options.ratePerSecond });
    this.breaker = new CircuitBreaker(options.breaker);
    this.metrics.breakerState.set(BREAKER_STATE_VALUE.closed);
    this.breaker.onChange((state, previous) => this.onBreakerChange(state, previous));
  }

  /**
   * Checks the server (version), the database and the credentials. Throws OdooConnectError:
   * CONNECTOR_ODOO_UNREACHABLE, CONNECTOR_NOT_ODOO, CONNECTOR_DATABASE_UNKNOWN, CONNECTOR_LOGIN_FAILED,
   * CONNECTOR_VERSION_UNSUPPORTED, CONNECTOR_CONNECT_FAILED; ConfigError for invalid options.
   */
  static async connect(options: OdooClientOptions): Promise<OdooClient> {
    const o = parseOptions(options);
    const endpoint: Endpoint = {
      url: o.url,
      db: o.db,
      login: o.login,
      apiKey: o.apiKey,
      timeoutMs: o.timeoutMs,
    };
    const version = await probeVersion(endpoint);
    const protocol = chooseProtocol(endpoint, version, o.protocol);
    const uid = await authenticate(endpoint, protocol);
    const client = new OdooClient(o, endpoint, version, protocol, uid);
    client.log.info(
      { url: o.url, db: o.db, login: o.login, serverVersion: version.serverVersion, protocol, uid },
      "connected to Odoo",
    );
    return client;
  }

  /** The id of the user the calls run as. */
  get uid(): number {
    return this.transport.uid;
  }

  /**
   * One model method with named arguments. JSON-RPC sends
   * `execute_kw(db, uid, key, model, method, ids ? [ids] : [], params)` (`create`'s `vals_list`
   * positionally, as Odoo's call_kw requires); JSON-2 posts `{ids?, ...params, context?}`.
   * Results are Odoo's: over JSON-2 a method returning records returns their ids.
   * Argument names are those of the method's Python signature on the server's version (Odoo 16's
   * `search`/`search_count` take `args`, 17+ `domain`): prefer the helpers below, which handle that.
   */
  call<T = unknown>(
    model: string,
    method: string,
    params: CallParams = {},
    options: CallOptions = {},
  ): Promise<T> {
    const { ids, context, ...named } = params;
    let positional: OdooRequest["positional"];
    let kwargs: Record<string, unknown> = named;
    if (method === "create" && "vals_list" in named) {
      const { vals_list, ...others } = named;
      positional = [["vals_list", vals_list]];
      kwargs = others;
    }
    return this.execute(
      request(model, method, { ids, positional, kwargs, context }),
      isIdempotent(method, options.idempotent),
    ) as Promise<T>;
  }

  searchRead<T = Record<string, unknown>>(
    model: string,
    domain: unknown[],
    options: SearchReadOptions = {},
  ): Promise<T[]> {
    const { context, ...rest } = options;
    const kwargs: Record<string, unknown> = { domain };
    for (const key of ["fields", "offset", "limit", "order"] as const)
      if (rest[key] !== undefined) kwargs[key] = rest[key];
    return this.execute(request(model, "search_read", { kwargs, context }), true) as Promise<T[]>;
  }

  /** Record ids matching `domain` (the domain is positional over JSON-RPC: Odoo 16 names it `args`). */
  search(model: string, domain: unknown[], options: SearchOptions = {}): Promise<number[]> {
    const { context, ...rest } = options;
    const kwargs: Record<string, unknown> = {};
    for (const key of ["offset", "limit", "order"] as const)
      if (rest[key] !== undefined) kwargs[key] = rest[key];
    return this.execute(
      request(model, "search", { positional: [["domain", domain]], kwargs, context }),
      true,
    ) as Promise<number[]>;
  }

  searchCount(
    model: string,
    domain: unknown[],
    options: { context?: Record<string, unknown> } = {},
  ): Promise<number> {
    return this.execute(
      request(model, "search_count", { positional: [["domain", domain]], context: options.context }),
      true,
    ) as Promise<number>;
  }

  read<T = Record<string, unknown>>(
    model: string,
    ids: number[],
    fields?: string[],
    options: { context?: Record<string, unknown> } = {},
  ): Promise<T[]> {
    return this.execute(
      request(model, "read", { ids, kwargs: fields ? { fields } : {}, context: options.context }),
      true,
    ) as Promise<T[]>;
  }

  /** Creates one record (returns its id) or several (returns their ids, in order); 16–19 accept both. */
  create(model: string, values: Record<string, unknown>, options?: WriteOptions): Promise<number>;
  create(model: string, values: Record<string, unknown>[], options?: WriteOptions): Promise<number[]>;
  create(
    model: string,
    values: Record<string, unknown> | Record<string, unknown>[],
    options?: WriteOptions,
  ): Promise<number | number[]>;
  async create(
    model: string,
    values: Record<string, unknown> | Record<string, unknown>[],
    options: WriteOptions = {},
  ): Promise<number | number[]> {
    const many = Array.isArray(values);
    // JSON-2 returns a list of ids whatever was sent (json2.py: records → `.ids`): always send a list.
    const valsList = this.protocol === "json2" && !many ? [values] : values;
    const result = await this.execute(
      request(model, "create", { positional: [["vals_list", valsList]], context: options.context }),
      isIdempotent("create", options.idempotent),
    );
    if (many) return result as number[];
    return Array.isArray(result) ? (result[0] as number) : (result as number);
  }

  write(
    model: string,
    ids: number[],
    values: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<boolean> {
    return this.execute(
      request(model, "write", { ids, positional: [["vals", values]], context: options.context }),
      isIdempotent("write", options.idempotent),
      options.retry ?? true,
    ) as Promise<boolean>;
  }

  /** Refuses new calls, stops retrying, waits for the requests in flight (at most `timeoutMs`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.limiter.close();
    await Promise.allSettled([...this.pending]);
    this.breaker.dispose();
    this.log.info("Odoo client closed");
  }

  private execute(req: OdooRequest, idempotent: boolean, retry = true): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError(req));
    const admission = this.breaker.admit();
    if (!admission) {
      this.metrics.requests.inc({ model: req.model, method: req.method, outcome: "circuit_open" });
      return Promise.reject(this.circuitOpenError(req));
    }
    const task = this.run(req, idempotent, retry, admission === "probe");
    this.pending.add(task);
    const forget = () => this.pending.delete(task);
    task.then(forget, forget);
    return task;
  }

  private async run(req: OdooRequest, idempotent: boolean, retry: boolean, probe: boolean): Promise<unknown> {
    let failures = 0;
    let attempt = 0;
    let reauthenticated = false;
    for (;;) {
      let err: OdooError;
      try {
        const result = await this.send(req, ++attempt);
        this.breaker.record(false, probe);
        return result;
      } catch (e) {
        err = asOdooError(e, req);
      }
      if (err.odooName === CLOSED) {
        this.breaker.abandon(probe);
        throw err;
      }
      // Refused before the method ran: check the credentials once more, then send it again.
      if (err.odooName === SESSION_EXPIRED && !reauthenticated) {
        reauthenticated = true;
        try {
          await this.reauthenticate();
          this.metrics.retries.inc({ reason: retryReason(err) });
          continue;
        } catch (e) {
          err = asOdooError(e, req);
        }
      }
      failures++;
      const again =
        retry &&
        isRetryable(err, idempotent) &&
        failures < this.options.retry.attempts &&
        !probe &&
        this.breaker.state === "closed" &&
        !this.closed;
      if (again) {
        const delayMs = retryDelay(this.options.retry, failures, err);
        const reason = retryReason(err);
        this.metrics.retries.inc({ reason });
        this.log.debug(
          { model: req.model, method: req.method, reason, delayMs, failures },
          "retrying Odoo call",
        );
        await sleep(delayMs, this.closing.signal);
        if (!this.closed) continue;
      }
      this.breaker.record(err.kind === "transient", probe);
      throw err;
    }
  }

  /** One HTTP request through the limiter, measured and logged. */
  private send(req: OdooRequest, attempt: number): Promise<unknown> {
    return this.limiter.run(async () => {
      const labels = { model: req.model, method: req.method };
      const started = performance.now();
      this.metrics.inFlight.inc();
      let outcome = "ok";
      let error: string | undefined;
      try {
        return await this.transport.execute(req);
      } catch (e) {
        outcome = e instanceof OdooError ? e.kind : "permanent";
        error = e instanceof OdooError ? e.odooName : String(e);
        throw e;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        this.metrics.inFlight.dec();
        this.metrics.duration.observe(labels, seconds);
        this.metrics.requests.inc({ ...labels, outcome });
        this.log.debug(
          {
            ...labels,
            protocol: this.protocol,
            attempt,
            durationMs: Math.round(seconds * 1000),
            outcome,
            ...(error ? { error } : {}),
          },
          "odoo request",
        );
      }
    });
  }

  /** Logs in again (one at a time); throws an auth OdooError when the credentials are refused. */
  private reauthenticate(): Promise<void> {
    this.reauth ??= (async () => {
      try {
        const uid = await this.limiter.run(() => this.transport.authenticate());
        if (uid === false)
          throw new OdooError({
            odooName: ACCESS_DENIED,
            odooMessage: `Odoo no longer accepts login "${this.options.login}" on database "${this.options.db}"`,
            kind: "auth",
            ambiguous: false,
          });
        if (uid !== this.transport.uid)
          this.log.warn({ previous: this.transport.uid, uid }, "Odoo user id changed on re-authentication");
        this.transport.uid = uid;
        this.log.info({ uid }, "re-authenticated with Odoo after an expired session");
      } finally {
        this.reauth = undefined;
      }
    })();
    return this.reauth;
  }

  private circuitOpenError(req: OdooRequest): OdooError {
    const seconds = Math.ceil(this.breaker.retryInMs / 1000);
    return new OdooError({
      odooName: CIRCUIT_OPEN,
      odooMessage:
        this.breaker.state === "open"
          ? `Odoo is considered down after ${this.options.breaker.failureThreshold} consecutive transient ` +
            `failures: calls are refused for ${seconds} s more, then one probe call is let through`
          : "Odoo is considered down: a probe call is under way, other calls are refused until it succeeds",
      kind: "transient",
      ambiguous: false,
      model: req.model,
      method: req.method,
    });
  }

  private onBreakerChange(state: BreakerState, previous: BreakerState): void {
    this.metrics.breakerState.set(BREAKER_STATE_VALUE[state]);
    const line = { state, previous, url: this.options.url };
    if (state === "open") this.log.warn(line, "Odoo circuit breaker opened: calls are refused");
    else this.log.info(line, `Odoo circuit breaker ${state}`);
  }
}

function request(
  model: string,
  method: string,
  parts: {
    ids?: number[] | undefined;
    positional?: OdooRequest["positional"];
    kwargs?: Record<string, unknown>;
    context?: Record<string, unknown> | undefined;
  },
): OdooRequest {
  return {
    model,
    method,
    ...(parts.ids !== undefined ? { ids: parts.ids } : {}),
    ...(parts.positional ? { positional: parts.positional } : {}),
    ...(parts.kwargs ? { kwargs: parts.kwargs } : {}),
    ...(parts.context !== undefined ? { context: parts.context } : {}),
  };
}

function closedError(req: OdooRequest): OdooError {
  return new OdooError({
    odooName: CLOSED,
    odooMessage: "the Odoo client is closed",
    kind: "permanent",
    ambiguous: false,
    model: req.model,
    method: req.method,
  });
}

function asOdooError(e: unknown, req: OdooRequest): OdooError {
  if (e instanceof OdooError) return e.model ? e : e.forCall(req.model, req.method);
  if (e instanceof LimiterClosedError) return closedError(req);
  return new OdooError({
    odooName: "client-error",
    odooMessage: e instanceof Error ? e.message : String(e),
    kind: "permanent",
    ambiguous: false,
    model: req.model,
    method: req.method,
    cause: e,
  });
}
