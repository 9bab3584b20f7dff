/**
 * The dead letters of the Odoo records the inbound sync refuses (mapping/masterdata-common.ts: a
 * record of an unknown shape, a unit ratio of zero, a BoM cycle …): besides the log line and
 * `threadline_odoo_masterdata_refused_total`, each refusal lands in MFG_DLQ, where ops read it with the
 * dead letters of every consumer.
 *
 * - Subject `mfg.dlq.MFG_MASTERDATA.odoo-connector-inbound` (manifest.ts, INBOUND_DEAD_LETTERS): the
 *   stream the record would have gone to, and the sync's own token where a consumer's name would be —
 *   the record never reached a stream, no durable gave up on it. The connector's NATS user may publish
 *   that subject and no other of MFG_DLQ's (`access.deadLetters`).
 * - Body: the Odoo record as read (the fields its source reads), JSON, `content-type: application/json`.
 * - Headers: the `Threadline-Dlq-*` ones of every dead letter (streams/src/dead-letter.ts): stream
 *   MFG_MASTERDATA, the subject it would have been published on (`mfg.masterdata.<kind>.<site>.<id>`),
 *   consumer `odoo-connector-inbound`, code, message (`<model> <id> refused: <reason>`), first and last
 *   failure, no sequence; and {@link ODOO_LETTER_HEADERS}: the Odoo database, model, id, write_date and
 *   the site. `readDeadLetter` gives the latter back as the letter's `headers`.
 * - `Nats-Msg-Id` derives from the database, model, id, write_date, code and a digest of the record as
 *   read: a record version refused again for the same reason within the DLQ's 24 h duplicate window (a
 *   BoM read again through one of its lines, a cursor reset) is stored once. The digest because Odoo's
 *   write_date has whole seconds: two writes within one second are two versions, each with its letter.
 *
 * No memo of the letters stored: the cursor already maps a record version once (a re-read within the
 * overlap is skipped as handled), so an unchanged record is not dead-lettered at every poll; it is read
 * again only when it, or for a BoM a line or operation, changes, or when its cursor is lost — and a
 * letter then, past the duplicate window, says that the record is still refused, which ops should know.
 *
 * A dead letter that cannot be stored (MFG_DLQ full or missing, a permission missing, NATS away) loses
 * nothing: the refusal is logged and counted as always, and its letter waits in the state bucket under
 * `odoo-connector.<db>.<model>.dead-letters` (written before the cursor moves past the record, so a
 * crash re-reads the page instead) and is tried again at the start of every pass of the model. The
 * record is not published either way; the sync of the other records goes on.
 */
import type { KV } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { type RefusedMessage, subjectFor } from "../../../../streams/src/index.js";
import { INBOUND_DEAD_LETTERS } from "../manifest.js";
import { digestOf } from "./cursor.js";
import { eventIdFor, type MasterDataType, type Refusal } from "./source.js";
import type { OdooRow } from "./values.js";

/** What a refused record's dead letter says about it besides the `Threadline-Dlq-*` headers. */
export const ODOO_LETTER_HEADERS = {
  /** The Odoo database. */
  db: "Threadline-Odoo-Db",
  /** The record's model, e.g. `uom.uom`. */
  model: "Threadline-Odoo-Model",
  /** The record's id. */
  id: "Threadline-Odoo-Id",
  /** Its write_date as Odoo shows it (`YYYY-MM-DD HH:MM:SS`, UTC; empty when it has none). */
  writeDate: "Threadline-Odoo-Write-Date",
  /** The connector's site (the subject's site token). */
  site: "Threadline-Site",
} as const;

/** A refusal's dead letter, as the backlog stores it until MFG_DLQ does. */
export interface RefusalLetter {
  /** Its `Nats-Msg-Id`. */
  readonly id: string;
  readonly code: string;
  readonly message: string;
  readonly model: string;
  readonly odooId: number;
  readonly writeDate: string;
  readonly eventType: MasterDataType;
  readonly record: OdooRow;
  /** ISO-8601: when it was refused first. */
  readonly refusedAt: string;
}

/** The letter of a refusal by the sync of Odoo database `db`, refused at `at`. */
export function letterOf(refusal: Refusal, db: string, at: Date): RefusalLetter {
  const writeDate = typeof refusal.record["write_date"] === "string" ? refusal.record["write_date"] : "";
  return {
    id: eventIdFor(db, [
      "dead-letter",
      refusal.model,
      refusal.odooId,
      writeDate,
      refusal.code,
      digestOf(refusal.record),
    ]),
    code: refusal.code,
    message: refusal.message,
    model: refusal.model,
    odooId: refusal.odooId,
    writeDate,
    eventType: refusal.eventType,
    record: refusal.record,
    refusedAt: at.toISOString(),
  };
}

/** The message `deadLetterRefused` publishes for a letter. */
export function refusedMessage(
  letter: RefusalLetter,
  o: { readonly db: string; readonly site: string },
): RefusedMessage {
  const headers = natsHeaders();
  headers.set("content-type", "application/json");
  headers.set(ODOO_LETTER_HEADERS.db, o.db);
  headers.set(ODOO_LETTER_HEADERS.model, letter.model);
  headers.set(ODOO_LETTER_HEADERS.id, String(letter.odooId));
  headers.set(ODOO_LETTER_HEADERS.writeDate, letter.writeDate);
  headers.set(ODOO_LETTER_HEADERS.site, o.site);
  return {
    stream: INBOUND_DEAD_LETTERS.stream,
    subject: subjectFor(letter.eventType, o.site, String(letter.odooId)),
    producer: INBOUND_DEAD_LETTERS.producer,
    code: letter.code,
    message: letter.message,
    refusedAt: new Date(letter.refusedAt),
    id: letter.id,
    headers,
    data: new TextEncoder().encode(JSON.stringify(letter.record)),
  };
}

interface StoredBacklog {
  v: 1;
  letters: RefusalLetter[];
}

/**
 * The dead letters of one model's refusals that MFG_DLQ has not stored yet, kept in the state bucket.
 * One pass of a model runs at a time, so a model's backlog has one writer.
 */
export class DeadLetterBacklog {
  private dirty = false;

  private constructor(
    readonly key: string,
    private readonly pending: Map<string, RefusalLetter>,
  ) {}

  static async load(kv: KV, key: string): Promise<DeadLetterBacklog> {
    const entry = await kv.get(key);
    const stored = entry?.operation === "PUT" && entry.length > 0 ? entry.json<StoredBacklog>() : undefined;
    return new DeadLetterBacklog(key, new Map((stored?.letters ?? []).map((l) => [l.id, l])));
  }

  get size(): number {
    return this.pending.size;
  }

  /** The letters waiting, oldest first. */
  letters(): RefusalLetter[] {
    return [...this.pending.values()];
  }

  /** Keeps a letter until it is stored (the first refusal's time stays). */
  keep(letter: RefusalLetter): void {
    if (this.pending.has(letter.id)) return;
    this.pending.set(letter.id, letter);
    this.dirty = true;
  }

  /** The letter is stored (or was never waiting). */
  stored(id: string): void {
    if (this.pending.delete(id)) this.dirty = true;
  }

  /** Writes the backlog when it changed; an empty one is deleted. */
  async save(kv: KV): Promise<void> {
    if (!this.dirty) return;
    if (this.pending.size === 0) await kv.delete(this.key);
    else await kv.put(this.key, JSON.stringify({ v: 1, letters: this.letters() } satisfies StoredBacklog));
    this.dirty = false;
  }
}
