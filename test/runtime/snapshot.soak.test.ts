/**
 * The snapshot stop-and-restart harness (test/helpers/snapshot-harness.ts) at
 * length: twenty SIGTERMs and SIGKILLs per store (`npm run test:soak`).
 */
import { programStopsSuite, snapshotStores } from "../helpers/snapshot-harness";

programStopsSuite(snapshotStores(), Number(process.env.SPOTJOB_SNAPSHOT_STOPS ?? 20));
