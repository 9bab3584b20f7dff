/** Master-data checks: what in Odoo's reference data would block or mislead postings. */
export {
  checkMasterData,
  MASTER_DATA_CHECKS,
  type MasterDataCheck,
  type MasterDataCheckOptions,
  type MasterDataFinding,
  type MasterDataReport,
  type MasterDataSnapshot,
} from "./check.js";
export { type LoadOptions, loadSnapshot } from "./odoo.js";
export { MasterDataWatch, type MasterDataWatchOptions } from "./watch.js";
