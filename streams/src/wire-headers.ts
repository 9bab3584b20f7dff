/**
 * Header values read straight from a received message's header block. nats.js builds its header
 * object on first use of `msg.headers`: the block decoded into a string, split into lines, and each
 * header validated and appended to a map of arrays. On the consumer's hot path that was the largest
 * single cost per message after GC (BENCHMARKS.md, "sdk"). The envelope needs eight values, so they
 * are read here from the bytes in one pass, and nats.js's object is made only if someone asks for
 * `headers` itself.
 *
 * nats.js keeps the block in its message object's internal fields (`_rdata`, `_msg.hdr`: core 3.x).
 * Reading them is the one place Threadline relies on nats.js internals; a message of another shape
 * (another nats.js version, a test double) is read through `msg.headers`, so an upgrade that moves
 * the fields costs speed, never correctness, and test/streams/envelope-hot-path.test.ts fails loudly when
 * the fast path is lost.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";

/** What a header lookup reads: a received message, plain or JetStream. */
export type ReceivedMsg = Pick<Msg, "headers"> | Pick<JsMsg, "headers">;

interface CoreMsgInternals {
  readonly _rdata?: unknown;
  readonly _msg?: { readonly hdr?: unknown };
}

/**
 * The raw header block (`NATS/1.0\r\n` … `\r\n\r\n`) of a message nats.js received, as text; `null`
 * when it has no headers; `undefined` when the message's shape is not one whose block can be read.
 */
export function headerBlock(msg: ReceivedMsg): string | null | undefined {
  // A JetStream message wraps the core message in `msg`.
  const core = ((msg as { msg?: unknown }).msg ?? msg) as CoreMsgInternals;
  const data = core._rdata;
  const hdr = core._msg?.hdr;
  if (typeof hdr !== "number") return undefined;
  if (hdr < 0) return null;
  if (!(data instanceof Uint8Array) || data.length < hdr) return undefined;
  // Usually a view of the socket's Buffer: decoded in place, without another view object.
  if (Buffer.isBuffer(data)) return data.toString("utf8", 0, hdr);
  return Buffer.from(data.buffer, data.byteOffset, hdr).toString("utf8");
}

/**
 * Calls `take(name, value)` for each header line of the block, in order: the name as written, the
 * value trimmed (as nats.js's own decoding does), lines without a colon skipped. Stops early when
 * `take` returns true.
 */
export function eachHeader(block: string, take: (name: string, value: string) => boolean | undefined): void {
  // The first line is the version (and a status, which messages given to handlers never carry).
  let at = block.indexOf("\r\n");
  if (at < 0) return;
  at += 2;
  while (at < block.length) {
    let end = block.indexOf("\r\n", at);
    if (end < 0) end = block.length;
    if (end > at) {
      const colon = block.indexOf(":", at);
      if (colon > -1 && colon < end && take(block.slice(at, colon), block.slice(colon + 1, end).trim()))
        return;
    }
    at = end + 2;
  }
}

/** The first value of header `name` (exact case, as `MsgHdrs.get`), or undefined. */
export function headerValue(msg: ReceivedMsg, name: string): string | undefined {
  const block = headerBlock(msg);
  if (block === null) return undefined;
  if (block === undefined) return firstValue(msg.headers, name);
  let found: string | undefined;
  eachHeader(block, (k, v) => {
    if (k !== name) return false;
    found = v;
    return true;
  });
  return found;
}

function firstValue(h: MsgHdrs | undefined, name: string): string | undefined {
  if (!h) return undefined;
  for (const [k, v] of h) if (k === name) return v[0];
  return undefined;
}
