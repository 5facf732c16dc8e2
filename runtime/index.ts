/**
 * The runtime's public API for TypeScript programs that drive their own
 * loop: `import { ResumableSweep } from "spotjob/runtime"`.
 */
export { ResumableSweep, type RecordOptions, type ResumableSweepOptions } from "./sweep/resumable";
export { JournalCorruptError } from "./journal/scan";
export type { JournalWarning } from "./journal/journal";
export { openStore } from "./store/open";
export type { Store } from "./store/store";
