/** Production postings: counts onto the open order (report.ts), orders closed when runs end (close.ts). */
export {
  CLOSE_DEFAULTS,
  type CloseOptions,
  type ClosePolicy,
  closesOn,
  postRunEnded,
} from "./close.js";
export { type Family, type FamilyMember, OPEN_STATES, orderFamily } from "./family.js";
export {
  findPosting,
  POSTING_FIELDS,
  POSTING_MODEL,
  type PostingRecord,
  postingsOf,
  postingsOn,
} from "./postings.js";
export { familyKey, type ProductionPosting, postProductionReported } from "./report.js";
