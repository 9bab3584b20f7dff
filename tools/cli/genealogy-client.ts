/**
 * The genealogy service's HTTP API as `threadline genealogy` calls it: where the service is (`--url`,
 * $GENEALOGY_URL), its bearer token ($GENEALOGY_TOKEN or `--token-file`; never printed), and its error
 * answers turned into the CLI's messages and exit codes — an unknown lot is "no lot X in the genealogy"
 * (exit 1), a parameter the service refuses is a usage error (exit 2), an unreachable service names
 * the URL it tried.
 */
import { CommandFailed, UsageError } from "./run.js";
import { bearerToken, send, serviceUrl, TimeoutError } from "./service-http.js";

/** The client's defaults, in one place. */
export const GENEALOGY_CLIENT_DEFAULTS = {
  /** The service's HTTP address when neither --url nor $GENEALOGY_URL says. */
  url: "http://127.0.0.1:9470",
  /** How long a query may take. */
  timeoutMs: 30_000,
  /** How long a rebuild may take: it reads every stream again. */
  rebuildTimeoutMs: 3_600_000,
} as const;

/** The flags every `genealogy` subcommand takes. */
export interface GenealogyConnectionFlags {
  url?: string;
  tokenFile?: string;
}

/** The service's error body. */
interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string; readonly details?: unknown };
}

/** What a request is about, for the messages of its errors. */
export interface RequestSubject {
  readonly lot?: string;
  readonly product?: string;
}

export class GenealogyClient {
  private constructor(
    /** The service's base URL, as given (it is named in errors). */
    readonly url: string,
    private readonly token: string,
  ) {}

  /**
   * The client of the flags and the environment.
   * @throws UsageError naming the flag or variable when the URL is malformed or no token is given
   */
  static fromFlags(flags: GenealogyConnectionFlags, env: NodeJS.ProcessEnv = process.env): GenealogyClient {
    return new GenealogyClient(
      serviceUrl(flags.url, env["GENEALOGY_URL"], GENEALOGY_CLIENT_DEFAULTS.url),
      bearerToken(flags.tokenFile, env, "GENEALOGY_TOKEN", "genealogy service"),
    );
  }

  /** GET a path of the API with a query (undefined values left out); the answer's parsed JSON. */
  async get<T>(
    path: string,
    query: Record<string, string | number | undefined> = {},
    about: RequestSubject = {},
  ) {
    return (await this.request("GET", path, query, about, GENEALOGY_CLIENT_DEFAULTS.timeoutMs)) as T;
  }

  /** POST to a path, no body. */
  async post<T>(path: string, timeoutMs: number = GENEALOGY_CLIENT_DEFAULTS.timeoutMs) {
    return (await this.request("POST", path, {}, {}, timeoutMs)) as T;
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    query: Record<string, string | number | undefined>,
    about: RequestSubject,
    timeoutMs: number,
  ): Promise<unknown> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, String(v));
    const target = `${this.url}${path}${search.size > 0 ? `?${search}` : ""}`;
    let response: { status: number; text: string };
    try {
      response = await send(method, target, { authorization: `Bearer ${this.token}` }, timeoutMs);
    } catch (err) {
      throw new CommandFailed(this.unreachable(err, timeoutMs));
    }
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      throw new CommandFailed(
        `${this.url} answered ${response.status} with something that is not JSON: is it the genealogy service? (--url, $GENEALOGY_URL)`,
      );
    }
    if (response.status >= 200 && response.status < 300) return body;
    throw this.refusal(response.status, (body as ErrorBody).error, about);
  }

  private unreachable(err: unknown, timeoutMs: number): string {
    if (err instanceof TimeoutError)
      return `the genealogy service at ${this.url} did not answer within ${timeoutMs / 1000}s`;
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return `cannot reach the genealogy service at ${this.url} (${why}): is it running? (--url, $GENEALOGY_URL)`;
  }

  /** The error an answer means, in the CLI's words. */
  private refusal(status: number, error: ErrorBody["error"], about: RequestSubject): Error {
    const code = error?.code;
    const message = error?.message ?? `HTTP ${status}`;
    if (status === 401)
      return new CommandFailed(
        `the genealogy service at ${this.url} refused the token (${message}): check $GENEALOGY_TOKEN or --token-file`,
      );
    if (code === "GENEALOGY_LOT_UNKNOWN" && about.lot !== undefined)
      return new CommandFailed(
        `no lot ${about.lot}${about.product ? ` of product ${about.product}` : ""} in the genealogy (lots by name: threadline genealogy lots <prefix>)`,
      );
    if (code === "GENEALOGY_LOT_AMBIGUOUS") {
      const candidates = (error?.details as { candidates?: { product: string }[] } | undefined)?.candidates;
      const products = candidates?.map((c) => c.product).join(", ");
      return new CommandFailed(
        `several products have a lot ${about.lot ?? ""}${products ? ` (${products})` : ""}: say which with --product`,
      );
    }
    if (code === "GENEALOGY_QUERY_INVALID") return new UsageError(message);
    return new CommandFailed(
      `the genealogy service at ${this.url} answered ${status} ${code ?? ""}: ${message}`,
    );
  }
}
