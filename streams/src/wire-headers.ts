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
import {
  type Match,
  type Msg,
  type MsgHdrs,
  errors as natsErrors,
  headers as natsHeaders,
} from "@nats-io/nats-core";

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
 * Calls `take(i, value)` for each header line of the block named `names[i]` (exact case), in order;
 * the value trimmed as nats.js's own decoding trims it. Other lines cost no string: only the values
 * asked for are cut out of the block. Stops early when `take` returns true.
 */
export function eachHeader(
  block: string,
  names: readonly string[],
  take: (i: number, value: string) => boolean | undefined,
): void {
  // The first line is the version (and a status, which messages given to handlers never carry).
  let at = block.indexOf("\r\n");
  if (at < 0) return;
  at += 2;
  while (at < block.length) {
    let end = block.indexOf("\r\n", at);
    if (end < 0) end = block.length;
    const colon = block.indexOf(":", at);
    if (colon > at && colon < end) {
      const i = nameAt(block, at, colon - at, names);
      if (i >= 0 && take(i, block.slice(colon + 1, end).trim())) return;
    }
    at = end + 2;
  }
}

/** Which of `names` the block has at `at`, `length` characters long; -1 for none. */
function nameAt(block: string, at: number, length: number, names: readonly string[]): number {
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name.length === length && block.startsWith(name, at)) return i;
  }
  return -1;
}

/** The first value of header `name` (exact case, as `MsgHdrs.get`), or undefined. */
export function headerValue(msg: ReceivedMsg, name: string): string | undefined {
  const block = headerBlock(msg);
  if (block === null) return undefined;
  if (block === undefined) return firstValue(msg.headers, name);
  let found: string | undefined;
  eachHeader(block, [name], (_, v) => {
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

/** nats.js's header object as the client uses it when publishing (`encode` is not in its public type). */
type EncodableHeaders = MsgHdrs & { encode(): Uint8Array };

const HEADER_LINE = "NATS/1.0\r\n";

/**
 * Headers to publish, written as the wire block in one pass. nats.js's own object validates every
 * value, appends it to a map of arrays and rebuilds the block from that map on `encode()`; for the
 * ten CloudEvents headers of every event that was about a sixth of the publisher's CPU
 * (BENCHMARKS.md, "sdk"). The values are checked here as nats.js checks them (no CR or LF, trimmed).
 *
 * What nats.js does when publishing — `encode()`, and `set` of the `Nats-Msg-Id` a JetStream publish
 * adds — stays on the fast path; any other use turns it into a nats.js header object for good, so
 * reading, matching and editing behave exactly as nats.js's. Like reading (above), writing relies on
 * nats.js calling `encode()` on the headers it is given; test/streams/envelope-hot-path.test.ts
 * publishes through it to a real server and reads the message back.
 */
export class BlockHeaders implements MsgHdrs {
  // Names and values side by side: two arrays per message, not one per header.
  readonly #names: string[] = [];
  readonly #values: string[] = [];
  #real: EncodableHeaders | undefined;

  /** `names[i]` (exact case) is `values[i]`; values as nats.js would take them. */
  constructor(names: readonly string[], values: readonly string[]) {
    for (let i = 0; i < names.length; i++) {
      this.#names.push(names[i] as string);
      this.#values.push(checkedValue(values[i] as string));
    }
  }

  /** The nats.js object with the same headers, made on first use of anything but publishing. */
  #h(): EncodableHeaders {
    if (!this.#real) {
      const h = natsHeaders() as EncodableHeaders;
      for (let i = 0; i < this.#names.length; i++)
        h.append(this.#names[i] as string, this.#values[i] as string);
      this.#real = h;
    }
    return this.#real;
  }

  encode(): Uint8Array {
    if (this.#real) return this.#real.encode();
    let block = HEADER_LINE;
    for (let i = 0; i < this.#names.length; i++) block += `${this.#names[i]}: ${this.#values[i]}\r\n`;
    return Buffer.from(`${block}\r\n`, "utf8");
  }

  set(k: string, v: string, match?: Match): void {
    if (this.#real || match !== undefined) {
      this.#h().set(k, v, match);
      return;
    }
    const value = checkedValue(v);
    for (let i = this.#names.length - 1; i >= 0; i--)
      if (this.#names[i] === k) {
        this.#names.splice(i, 1);
        this.#values.splice(i, 1);
      }
    this.#names.push(k);
    this.#values.push(value);
  }

  get hasError(): boolean {
    return this.#h().hasError;
  }
  get status(): string {
    return this.#h().status;
  }
  get code(): number {
    return this.#h().code;
  }
  get description(): string {
    return this.#h().description;
  }
  get(k: string, match?: Match): string {
    return this.#h().get(k, match);
  }
  append(k: string, v: string, match?: Match): void {
    this.#h().append(k, v, match);
  }
  has(k: string, match?: Match): boolean {
    return this.#h().has(k, match);
  }
  keys(): string[] {
    return this.#h().keys();
  }
  values(k: string, match?: Match): string[] {
    return this.#h().values(k, match);
  }
  delete(k: string, match?: Match): void {
    this.#h().delete(k, match);
  }
  last(k: string, match?: Match): string {
    return this.#h().last(k, match);
  }
  [Symbol.iterator](): Iterator<[string, string[]]> {
    return this.#h()[Symbol.iterator]();
  }
}

/** A header value as nats.js takes it: no CR or LF (they would end the line), trimmed; its error if not. */
function checkedValue(v: string): string {
  if (v.includes("\r") || v.includes("\n"))
    throw natsErrors.InvalidArgumentError.format("header", "values cannot contain \\r or \\n");
  return v.trim();
}
