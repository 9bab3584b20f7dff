/**
 * The quality service's HTTP API as `threadline quality` calls it: where the service is (`--url`,
 * $QUALITY_URL), its bearer token ($QUALITY_TOKEN or `--token-file`; never printed), and its
 * `{ error: { code, message } }` answers turned into the CLI's messages and exit codes — a refused
 * token or role, an unknown hold, a hold already decided, a service not ready or unreachable (naming
 * the URL it tried) exit 1; a request the service finds invalid is a usage error (exit 2), naming the
 * flag rather than the API's field where the command says which flag gave it.
 */
import { CommandFailed, UsageError } from "./run.js";
import { bearerToken, send, serviceUrl, TimeoutError } from "./service-http.js";

/** The client's defaults, in one place. */
export const QUALITY_CLIENT_DEFAULTS = {
  /** The service's HTTP address when neither --url nor $QUALITY_URL says. */
  url: "http://127.0.0.1:9480",
  /** How long a request may take (placing a hold follows the genealogy). */
  timeoutMs: 30_000,
} as const;

/** The flags every subcommand that calls the service takes. */
export interface QualityConnectionFlags {
  url?: string;
  tokenFile?: string;
}

/** The service's error body. */
interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** What a request is about, for the messages of its errors. */
export interface QualityRequestSubject {
  /** The hold the request names. */
  readonly holdId?: string;
  /** The API's body fields → the flags that gave them (`measuredValues` → `--values`). */
  readonly flags?: Readonly<Record<string, string>>;
}

export class QualityClient {
  private constructor(
    /** The service's base URL, as given (it is named in errors). */
    readonly url: string,
    private readonly token: string,
  ) {}

  /**
   * The client of the flags and the environment.
   * @throws UsageError naming the flag or variable when the URL is malformed or no token is given
   */
  static fromFlags(flags: QualityConnectionFlags, env: NodeJS.ProcessEnv = process.env): QualityClient {
    return new QualityClient(
      serviceUrl(flags.url, env["QUALITY_URL"], QUALITY_CLIENT_DEFAULTS.url),
      bearerToken(flags.tokenFile, env, "QUALITY_TOKEN", "quality service"),
    );
  }

  /** GET a path with a query (undefined values left out); the answer's parsed JSON. */
  async get<T>(
    path: string,
    query: Record<string, string | undefined> = {},
    about: QualityRequestSubject = {},
  ) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, v);
    return (await this.request(
      "GET",
      `${path}${search.size > 0 ? `?${search}` : ""}`,
      undefined,
      about,
    )) as T;
  }

  /** POST a JSON body to a path; the answer's parsed JSON. */
  async post<T>(path: string, body: unknown, about: QualityRequestSubject = {}) {
    return (await this.request("POST", path, body, about)) as T;
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    about: QualityRequestSubject,
  ): Promise<unknown> {
    let response: { status: number; text: string };
    try {
      response = await send(
        method,
        `${this.url}${path}`,
        { authorization: `Bearer ${this.token}` },
        QUALITY_CLIENT_DEFAULTS.timeoutMs,
        body,
      );
    } catch (err) {
      throw new CommandFailed(this.unreachable(err));
    }
    let answer: unknown;
    try {
      answer = JSON.parse(response.text);
    } catch {
      throw new CommandFailed(
        `${this.url} answered ${response.status} with something that is not JSON: is it the quality service? (--url, $QUALITY_URL)`,
      );
    }
    if (response.status >= 200 && response.status < 300) return answer;
    throw this.refusal(response.status, (answer as ErrorBody).error, about);
  }

  private unreachable(err: unknown): string {
    if (err instanceof TimeoutError)
      return `the quality service at ${this.url} did not answer within ${QUALITY_CLIENT_DEFAULTS.timeoutMs / 1000}s`;
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return `cannot reach the quality service at ${this.url} (${why}): is it running? (--url, $QUALITY_URL)`;
  }

  /** The error an answer means, in the CLI's words. */
  private refusal(status: number, error: ErrorBody["error"], about: QualityRequestSubject): Error {
    const code = error?.code;
    const message = error?.message ?? `HTTP ${status}`;
    switch (code) {
      case "QUALITY_UNAUTHORIZED":
        return new CommandFailed(
          `the quality service at ${this.url} refused the token (${message}): check $QUALITY_TOKEN or --token-file`,
        );
      case "QUALITY_FORBIDDEN":
        return new CommandFailed(
          `refused: ${message} (roles are given in the service's QUALITY_USERS_FILE; threadline quality token)`,
        );
      case "QUALITY_HOLD_NOT_FOUND":
        return new CommandFailed(
          `no hold ${about.holdId ?? ""} in the quality service (threadline quality holds --status all lists them)`,
        );
      case "QUALITY_HOLD_ALREADY_DECIDED":
        return new CommandFailed(`${message}: a decision is final`);
      case "QUALITY_REQUEST_INVALID":
        return new UsageError(withFlags(message, about.flags));
      case "QUALITY_UNKNOWN_CHARACTERISTIC":
        return new CommandFailed(`${message}: give --lsl/--usl or --result`);
      case "QUALITY_NOT_READY":
      case "QUALITY_GENEALOGY_UNAVAILABLE":
        return new CommandFailed(`the quality service at ${this.url} cannot do it now: ${message}`);
      default:
        return new CommandFailed(
          `the quality service at ${this.url} answered ${status}${code ? ` ${code}` : ""}: ${message}`,
        );
    }
  }
}

/** The service's message with the API's field at its start replaced by the flag that gave it. */
function withFlags(message: string, flags: QualityRequestSubject["flags"] = {}): string {
  const field = /^([A-Za-z]+)(\.\d+)?:/.exec(message);
  const flag = field?.[1] !== undefined ? flags[field[1]] : undefined;
  return flag && field
    ? `${flag}${field[2] ? ` (value ${Number(field[2].slice(1)) + 1})` : ""}:${message.slice(field[0].length)}`
    : message;
}
