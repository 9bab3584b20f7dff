/**
 * The genealogy's HTTP API: find lots, trace one backward (what it was made of) or forward (where it
 * went), the recall report, the EPCIS export, where a component was used, and a rebuild. JSON over the
 * service's fastify server; every input is checked by a zod schema, and the OpenAPI 3.1 document is made
 * from those same schemas, so what the document says and what the routes accept cannot drift apart.
 *
 * Every route but the OpenAPI document needs `Authorization: Bearer <token>`: a trace names customers,
 * suppliers and quantities. An error answers `{ error: { code, message, details? } }` with its code's
 * status (errors.ts HTTP_STATUS). A database that does not answer is 503, never 404, so that a client
 * retries instead of concluding that a lot is unknown.
 *
 * The routes are added to the app directly, not in a plugin: the service checks each route against its
 * manifest as it is added (streams/src/service.ts), and a plugin's routes would only appear at `listen`.
 * So authentication and error answers are per route, and the server's other routes are left alone.
 *
 * Lot names may hold `/` (Odoo's "LOT/2026/001"): a client encodes it as %2F in the path; the router
 * matches on the encoded path and hands over the decoded name.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { tokenMatches } from "../../../streams/src/index.js";
import { GenealogyError, HTTP_STATUS } from "./errors.js";
import type { LotRef, RecallReport, TraceOptions, TraceResult, WhereUsedRow } from "./query/types.js";

/** What the routes ask of the queries (query/queries.ts's GenealogyQueries answers it). */
export interface GenealogyQueryApi {
  resolveLot(lot: string, product?: string): Promise<LotRef>;
  trace(root: LotRef, options: TraceOptions): Promise<TraceResult>;
  recall(root: LotRef, options?: { depth?: number }): Promise<RecallReport>;
  whereUsed(product: string, lot?: string, limit?: number): Promise<WhereUsedRow[]>;
  findLots(prefix: string, limit?: number): Promise<(LotRef & { productName: string | null })[]>;
}

export interface GenealogyRoutesOptions {
  /** The queries; undefined while the service starts (its database not open yet): routes answer 503. */
  readonly queries: () => GenealogyQueryApi | undefined;
  /** The bearer token every route but the OpenAPI document requires. Must not be empty. */
  readonly token: string;
  /** Rebuilds the graph from the streams (POST /genealogy/rebuild). @default none: the route is not served */
  readonly rebuild?: () => Promise<unknown>;
  /** The EPCIS 2.0 document of a lot. @default none: the route answers 503 */
  readonly epcis?: (root: LotRef) => Promise<object>;
}

/** The codes only the HTTP layer answers with (the others are errors.ts's). */
export const GENEALOGY_HTTP_ERROR_CODES = {
  unauthorized: "GENEALOGY_UNAUTHORIZED",
  failed: "GENEALOGY_QUERY_FAILED",
} as const;

/** How long a client should wait before asking again after a 503, in seconds. */
const RETRY_AFTER_SECONDS = 5;

// ---------------------------------------------------------------------------------------------------
// Inputs: one schema per route's path and query parameters. Query strings are strict: a misspelt
// parameter (`?dept=3`) is refused by name rather than silently ignored.

const LOT_PARAMS = z.strictObject({
  lot: z.string().min(1).describe("The lot name; URL-encode it (LOT/2026/001 as LOT%2F2026%2F001)."),
});

const product = z
  .string()
  .min(1, { error: "must not be empty" })
  .describe(
    "The product's internal reference (or #<odoo id>): needed when several products have a lot of that name.",
  );

const integer = (min: number, max: number, description: string) =>
  z.coerce
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int()
    .min(min)
    .max(max)
    .describe(description);

const depth = integer(1, 50, "Edges to follow at most from the lot (default 10).");

const time = z.iso
  .datetime({ offset: true, error: "must be an ISO-8601 time with its zone, e.g. 2026-12-04T06:00:00Z" })
  .describe("ISO-8601 time with its zone.");

const FIND_LOTS_QUERY = z.strictObject({
  prefix: z.string().default("").describe("The start of the lot name (empty: any lot)."),
  limit: integer(1, 1000, "Lots at most.").optional(),
});

const TRACE_QUERY = z
  .strictObject({
    direction: z
      .enum(["backward", "forward"], {
        error: (issue) =>
          issue.input === undefined ? "is required: backward or forward" : "must be backward or forward",
      })
      .describe("backward: what the lot was made of; forward: what was made of it and where it went."),
    depth: depth.optional(),
    since: time.optional().describe("Only edges whose events are at or after this time."),
    until: time.optional().describe("Only edges whose events are at or before this time."),
    product: product.optional(),
  })
  .refine(
    (q) => q.since === undefined || q.until === undefined || Date.parse(q.since) <= Date.parse(q.until),
    {
      path: ["since"],
      error: "must not be after until",
    },
  );

const RECALL_QUERY = z.strictObject({ depth: depth.optional(), product: product.optional() });

const EPCIS_QUERY = z.strictObject({ product: product.optional() });

const WHERE_USED_PARAMS = z.strictObject({
  product: z.string().min(1).describe("The component's internal reference (or #<odoo id>)."),
});

const WHERE_USED_QUERY = z.strictObject({
  lot: z
    .string()
    .min(1, { error: "must not be empty" })
    .optional()
    .describe("Only this lot of the component."),
  limit: integer(1, 1000, "Rows at most.").optional(),
});

const NO_INPUT = z.strictObject({});

/** The body of every error answer. */
const ERROR_BODY = z.object({
  error: z.object({
    code: z.string().describe("A stable code (docs/errors.md), e.g. GENEALOGY_LOT_UNKNOWN."),
    message: z.string().describe("What went wrong, naming the parameter or the lot."),
    details: z.unknown().optional().describe("E.g. the candidates of an ambiguous lot."),
  }),
});

// ---------------------------------------------------------------------------------------------------
// The routes, declared once: the manifest's `http` list and the OpenAPI document are made from this.

interface RouteSpec {
  readonly operationId: string;
  readonly method: "GET" | "POST";
  /** As fastify spells it. */
  readonly path: string;
  readonly auth: "bearer" | "none";
  readonly description: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  /** What a 200 answer holds, and its content type. */
  readonly answer: { readonly description: string; readonly contentType: string };
  /** The error statuses it may answer, beside 401 and 503 (which every authenticated route may). */
  readonly errors: readonly number[];
}

const JSON_TYPE = "application/json";
const LD_JSON_TYPE = "application/ld+json";

const SPECS = [
  {
    operationId: "findLots",
    method: "GET",
    path: "/genealogy/lots",
    auth: "bearer",
    description: "Lots whose name starts with a prefix, with their product.",
    query: FIND_LOTS_QUERY,
    answer: { description: "{ lots: (LotRef & { productName })[] }", contentType: JSON_TYPE },
    errors: [400],
  },
  {
    operationId: "traceLot",
    method: "GET",
    path: "/genealogy/lots/:lot/trace",
    auth: "bearer",
    description:
      "A lot's genealogy: backward to the lots it was made of and their suppliers, or forward to the lots made of it, the shipments and customers.",
    params: LOT_PARAMS,
    query: TRACE_QUERY,
    answer: {
      description: "A TraceResult (services/genealogy-builder/src/query/types.ts).",
      contentType: JSON_TYPE,
    },
    errors: [400, 404, 409],
  },
  {
    operationId: "recallLot",
    method: "GET",
    path: "/genealogy/lots/:lot/recall",
    auth: "bearer",
    description:
      "The recall report of a bad lot: the customers to contact with the quantities they got, the lots to block, the lots already on hold.",
    params: LOT_PARAMS,
    query: RECALL_QUERY,
    answer: {
      description: "A RecallReport (services/genealogy-builder/src/query/types.ts).",
      contentType: JSON_TYPE,
    },
    errors: [400, 404, 409],
  },
  {
    operationId: "exportEpcis",
    method: "GET",
    path: "/genealogy/lots/:lot/epcis",
    auth: "bearer",
    description: "The lot's genealogy, both ways, as an EPCIS 2.0 JSON-LD document.",
    params: LOT_PARAMS,
    query: EPCIS_QUERY,
    answer: { description: "An EPCIS 2.0 document (EPCISDocument).", contentType: LD_JSON_TYPE },
    errors: [400, 404, 409],
  },
  {
    operationId: "whereUsed",
    method: "GET",
    path: "/genealogy/where-used/:product",
    auth: "bearer",
    description: "The lots a component (one of its lots, or any) went into, with the net quantity.",
    params: WHERE_USED_PARAMS,
    query: WHERE_USED_QUERY,
    answer: { description: "{ rows: WhereUsedRow[] }", contentType: JSON_TYPE },
    errors: [400],
  },
  {
    operationId: "rebuild",
    method: "POST",
    path: "/genealogy/rebuild",
    auth: "bearer",
    description:
      "Rebuilds the graph from the streams beside the live one and switches over; answers when done.",
    query: NO_INPUT,
    answer: { description: "{ rebuilt: true, result }: what the rebuild reports.", contentType: JSON_TYPE },
    errors: [400, 500],
  },
  {
    operationId: "openapi",
    method: "GET",
    path: "/genealogy/openapi.json",
    auth: "none",
    description: "This API's OpenAPI 3.1 document.",
    answer: { description: "The OpenAPI document.", contentType: JSON_TYPE },
    errors: [],
  },
] as const satisfies readonly RouteSpec[];

type OperationId = (typeof SPECS)[number]["operationId"];

/** The routes as the service's manifest declares them (streams/src/manifest.ts `http`). */
export const GENEALOGY_ROUTES: readonly {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly auth: "bearer" | "none";
  readonly description: string;
}[] = SPECS.map(({ method, path, auth, description }) => ({ method, path, auth, description }));

// ---------------------------------------------------------------------------------------------------
// Answers

interface Answer {
  readonly status: number;
  readonly body: { error: { code: string; message: string; details?: unknown } };
}

/** A parameter refused: 400 naming it (and what was given, when it is short enough to read). */
function invalid(where: "path" | "query", input: unknown, error: z.ZodError): GenealogyError {
  const issue = error.issues[0];
  if (issue?.code === "unrecognized_keys")
    return new GenealogyError(
      "GENEALOGY_QUERY_INVALID",
      `unknown ${where} parameter ${issue.keys.join(", ")}`,
    );
  const name = issue?.path.join(".") ?? "";
  const given = issue ? valueAt(input, issue.path) : undefined;
  const shown = typeof given === "string" && given.length <= 64 ? ` (got ${JSON.stringify(given)})` : "";
  return new GenealogyError(
    "GENEALOGY_QUERY_INVALID",
    `${where} parameter ${name} ${issue?.message ?? "is invalid"}${shown}`,
  );
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path)
    v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function parse<S extends z.ZodType>(schema: S, input: unknown, where: "path" | "query"): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw invalid(where, input, result.error);
  return result.data;
}

/** SQLSTATE classes that mean the server cannot serve now: connection, resources, operator intervention. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;
const UNAVAILABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
/** node-postgres' own words for a pool or connection that is gone. */
const UNAVAILABLE_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|cannot use a pool after calling end|client has encountered a connection error|is closed/i;

/** Whether an error (or its cause) says the database cannot be reached, rather than a query being wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, hops = 0; e instanceof Error && hops < 5; e = e.cause, hops++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_ERRNO.has(code) || UNAVAILABLE_SQLSTATE.test(code)))
      return true;
    if (e instanceof AggregateError && e.errors.some(isDatabaseUnavailable)) return true;
    if (UNAVAILABLE_MESSAGE.test(e.message)) return true;
  }
  return false;
}

/** The answer to a failure: a GenealogyError's code and status; a lost database 503; anything else 500. */
export function errorAnswer(err: unknown): Answer {
  if (err instanceof GenealogyError) {
    const details = err.details === undefined ? {} : { details: err.details };
    return {
      status: HTTP_STATUS[err.code],
      body: { error: { code: err.code, message: err.message, ...details } },
    };
  }
  if (isDatabaseUnavailable(err))
    return {
      status: 503,
      body: {
        error: {
          code: "GENEALOGY_DATABASE_UNAVAILABLE",
          message: `the genealogy's database does not answer: ${(err as Error).message}; try again later`,
        },
      },
    };
  return {
    status: 500,
    body: {
      error: {
        code: GENEALOGY_HTTP_ERROR_CODES.failed,
        message: `the query failed: ${(err as Error)?.message ?? String(err)}; the service log has the cause`,
      },
    },
  };
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  if (answer.status === 503) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
  return reply.code(answer.status).type(JSON_TYPE).send(answer.body);
}

// ---------------------------------------------------------------------------------------------------
// The routes

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Adds the genealogy's routes to the service's server.
 * @throws Error when the token is empty: the routes would be open to anyone
 */
export function registerGenealogyRoutes(app: FastifyInstance, options: GenealogyRoutesOptions): void {
  if (options.token === "")
    throw new Error("the genealogy API needs a bearer token: an empty one would leave every trace open");
  const queries = (): GenealogyQueryApi => {
    const q = options.queries();
    if (!q)
      throw new GenealogyError(
        "GENEALOGY_DATABASE_UNAVAILABLE",
        "the genealogy builder is starting (its database is not open yet); try again in a few seconds",
      );
    return q;
  };
  /** The lot a path names, resolved to its product (404 unknown, 409 ambiguous). */
  const rootOf = (req: FastifyRequest, product: string | undefined) =>
    queries().resolveLot(parse(LOT_PARAMS, req.params, "path").lot, product);

  let openapi: object | undefined;
  const handlers: Record<OperationId, Handler> = {
    findLots: async (req) => {
      const q = parse(FIND_LOTS_QUERY, req.query, "query");
      return { lots: await queries().findLots(q.prefix, q.limit) };
    },
    traceLot: async (req) => {
      const q = parse(TRACE_QUERY, req.query, "query");
      const root = await rootOf(req, q.product);
      return queries().trace(root, {
        direction: q.direction,
        ...(q.depth === undefined ? {} : { depth: q.depth }),
        ...(q.since === undefined ? {} : { since: new Date(q.since) }),
        ...(q.until === undefined ? {} : { until: new Date(q.until) }),
      });
    },
    recallLot: async (req) => {
      const q = parse(RECALL_QUERY, req.query, "query");
      const root = await rootOf(req, q.product);
      return queries().recall(root, q.depth === undefined ? {} : { depth: q.depth });
    },
    exportEpcis: async (req, reply) => {
      const q = parse(EPCIS_QUERY, req.query, "query");
      const root = await rootOf(req, q.product);
      if (!options.epcis)
        throw new GenealogyError(
          "GENEALOGY_DATABASE_UNAVAILABLE",
          "the EPCIS export is not available in this process",
        );
      const doc = await options.epcis(root);
      reply.type(LD_JSON_TYPE);
      return doc;
    },
    whereUsed: async (req) => {
      const { product } = parse(WHERE_USED_PARAMS, req.params, "path");
      const q = parse(WHERE_USED_QUERY, req.query, "query");
      return { rows: await queries().whereUsed(product, q.lot, q.limit) };
    },
    rebuild: async (req) => {
      parse(NO_INPUT, req.query, "query");
      const result = await (options.rebuild as () => Promise<unknown>)();
      return { rebuilt: true, result: result ?? null };
    },
    openapi: async () => {
      openapi ??= openApiDocument();
      return openapi;
    },
  };

  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    if (tokenMatches(req.headers.authorization, options.token)) return;
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="genealogy"')
      .type(JSON_TYPE)
      .send({
        error: {
          code: GENEALOGY_HTTP_ERROR_CODES.unauthorized,
          message: req.headers.authorization
            ? "the bearer token is wrong"
            : "a bearer token is required (Authorization: Bearer <token>)",
        },
      });
  };

  for (const spec of SPECS) {
    if (spec.operationId === "rebuild" && !options.rebuild) continue;
    const handle = handlers[spec.operationId];
    app.route({
      method: spec.method,
      url: spec.path,
      ...(spec.auth === "bearer" ? { onRequest: authenticate } : {}),
      handler: async (req, reply) => {
        try {
          const body = await handle(req, reply);
          if (!reply.hasHeader("content-type")) reply.type(spec.answer.contentType);
          return reply.send(body);
        } catch (err) {
          const answer = errorAnswer(err);
          if (answer.status >= 500)
            req.log.error({ err, route: spec.operationId }, answer.body.error.message);
          return send(reply, answer);
        }
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// The OpenAPI document

/** A schema as JSON Schema for the document: the input side (what a client sends), no `$schema`. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** An object schema's properties as OpenAPI parameters. */
function parametersOf(schema: z.ZodType | undefined, where: "path" | "query"): object[] {
  if (!schema) return [];
  const json = jsonSchema(schema) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || (json.required ?? []).includes(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "A parameter is invalid (GENEALOGY_QUERY_INVALID); the message names it.",
  401: "No bearer token, or the wrong one.",
  404: "No such lot in the genealogy (GENEALOGY_LOT_UNKNOWN).",
  409: "Several products have a lot of that name (GENEALOGY_LOT_AMBIGUOUS); details.candidates lists them: say which with `product`.",
  500: "The query or the rebuild failed; the message says why.",
  503: "The database does not answer, or the service is starting (GENEALOGY_DATABASE_UNAVAILABLE); retry after the Retry-After seconds.",
};

/** The API's OpenAPI 3.1 document, from the route table and the input schemas. */
export function openApiDocument(): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const spec of SPECS as readonly RouteSpec[]) {
    const path = spec.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    const statuses = spec.auth === "bearer" ? [...spec.errors, 401, 503] : [...spec.errors];
    const errors = Object.fromEntries(
      [...new Set(statuses)]
        .sort((a, b) => a - b)
        .map((status) => [
          String(status),
          {
            description: STATUS_TEXT[status] ?? "An error.",
            content: { [JSON_TYPE]: { schema: { $ref: "#/components/schemas/Error" } } },
          },
        ]),
    );
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = {
      operationId: spec.operationId,
      description: spec.description,
      security: spec.auth === "bearer" ? [{ bearer: [] }] : [],
      parameters: [...parametersOf(spec.params, "path"), ...parametersOf(spec.query, "query")],
      responses: {
        "200": {
          description: spec.answer.description,
          content: { [spec.answer.contentType]: { schema: {} } },
        },
        ...errors,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Threadline genealogy",
      version: "1",
      description:
        "Lot genealogy built from Threadline's events: traces, recall reports, EPCIS export. Lot names with `/` are URL-encoded in paths (%2F).",
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: jsonSchema(ERROR_BODY) },
    },
  };
}
