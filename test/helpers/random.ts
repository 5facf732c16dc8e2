/**
 * Seeded randomness for tests that choose instants or faults at random: the
 * seed comes from SPOTJOB_TEST_SEED, or is drawn, and a failure names it so
 * the same choices can be made again.
 */
import { randomInt } from "node:crypto";

/** This run's seed: SPOTJOB_TEST_SEED when set, else a fresh one. */
export function testSeed(): number {
  const given = process.env.SPOTJOB_TEST_SEED;
  if (given === undefined || given === "") return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`SPOTJOB_TEST_SEED must be a non-negative integer, not ${JSON.stringify(given)}`);
  return seed;
}

/** mulberry32: uniform in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Runs `fn`; an error it throws (a failed expectation too) ends with how to repeat the run's random choices. */
export async function withSeed<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const note = `(random choices from seed ${seed}: SPOTJOB_TEST_SEED=${seed} makes them again)`;
    if (e instanceof Error) e.message = `${e.message}\n${note}`;
    else throw new Error(`${String(e)}\n${note}`);
    throw e;
  }
}
