/** Names shared by the declarations, the SDK and the tools: one place for each. */

/** The dead-letter stream: poison messages with the reason they were refused. */
export const DLQ_STREAM = "MFG_DLQ";
/** Dead letters of consumer `consumer` on stream `stream`: `mfg.dlq.<stream>.<consumer>`. */
export function dlqSubject(stream: string, consumer: string): string {
  return `mfg.dlq.${stream}.${consumer}`;
}

/** Headers a dead letter carries besides the original message's own headers. */
export const DLQ_HEADERS = {
  stream: "Threadline-Dlq-Stream",
  sequence: "Threadline-Dlq-Sequence",
  subject: "Threadline-Dlq-Subject",
  consumer: "Threadline-Dlq-Consumer",
  deliveries: "Threadline-Dlq-Deliveries",
  code: "Threadline-Dlq-Code",
  message: "Threadline-Dlq-Message",
  firstFailureAt: "Threadline-Dlq-First-Failure",
  lastFailureAt: "Threadline-Dlq-Last-Failure",
} as const;

/** Domain streams: `MFG_<DOMAIN>` holding `mfg.<domain>.>`. */
export function domainStream(domain: string): string {
  return `MFG_${domain.toUpperCase()}`;
}

/** The audit trail of ops actions (streams/src/audit.ts): `threadline.audit.<action>`. */
export const AUDIT_STREAM = "THREADLINE_AUDIT";
export const AUDIT_SUBJECTS = "threadline.audit.>";
