/**
 * The genealogy builder as the quality service asks it: the lots a lot was made from (backward) or that
 * were made from it (forward), over its HTTP API. An unknown lot is not an error (nothing was made from
 * it yet: the lot alone); anything else that is not an answer — unreachable, too slow, a 5xx, a body
 * that is not a trace — is QUALITY_GENEALOGY_UNAVAILABLE, on which the gate fails closed.
 */
import { QualityError, QualityErrorCode } from "./errors.js";

/** What the gate reads of the genealogy builder's trace answer (its HTTP contract, not its code). */
interface TraceAnswer {
  readonly lots: readonly { readonly product: string; readonly lot: string }[];
}

export interface LotKey {
  readonly product: string;
  readonly lot: string;
}

export interface GenealogyReader {
  /** The lots reached from `root` in `direction` (root first; untracked stock left out). */
  lots(root: LotKey, direction: "backward" | "forward", depth: number): Promise<LotKey[]>;
}

export class GenealogyHttpReader implements GenealogyReader {
  readonly #base: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {
    this.#base = url.replace(/\/+$/, "");
  }

  async lots(root: LotKey, direction: "backward" | "forward", depth: number): Promise<LotKey[]> {
    const query = new URLSearchParams({ direction, depth: String(depth), product: root.product });
    const url = `${this.#base}/genealogy/lots/${encodeURIComponent(root.lot)}/trace?${query}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${this.token}`, accept: "application/json" },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why =
        (err as Error).name === "TimeoutError"
          ? `no answer within ${this.timeoutMs} ms`
          : (err as Error).message;
      throw unavailable(
        `${this.#base} could not be asked about lot ${root.lot} (${root.product}): ${why}`,
        err,
      );
    }
    const body = await res.text();
    if (res.status === 404 && /GENEALOGY_LOT_UNKNOWN/.test(body)) return [root];
    if (!res.ok)
      throw unavailable(
        `${this.#base} answered ${res.status} about lot ${root.lot} (${root.product}): ${body.slice(0, 200)}`,
      );
    let trace: TraceAnswer;
    try {
      trace = JSON.parse(body) as TraceAnswer;
    } catch (err) {
      throw unavailable(`${this.#base} answered a body that is not JSON about lot ${root.lot}`, err);
    }
    if (!Array.isArray(trace.lots))
      throw unavailable(`${this.#base} answered a trace without lots about lot ${root.lot}`);
    const out: LotKey[] = [root];
    for (const l of trace.lots)
      if (l.lot !== "" && !(l.lot === root.lot && l.product === root.product))
        out.push({ product: l.product, lot: l.lot });
    return out;
  }
}

function unavailable(message: string, cause?: unknown): QualityError {
  return new QualityError(
    QualityErrorCode.GenealogyUnavailable,
    `the genealogy builder: ${message}`,
    cause ? { cause } : undefined,
  );
}
