/**
 * The crash harness (test/helpers/crash-harness.ts), short: a few SIGKILLs per
 * store on every `npm test`. crash.soak.test.ts runs hundreds.
 */
import { crashSuite } from "../helpers/crash-harness";

crashSuite({ kills: 10, remoteKills: 5, timeoutMs: 180_000 });
