/** The lease: a holder on this machine that has exited is taken over at once, a live one is waited for. */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { LEASE_KEY, Lease, LeaseHeld, localHolderId } from "../../runtime/lease";
import { MemoryStore } from "../helpers/memory-store";

const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
};

describe("lease held by another process on this machine", () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => children.splice(0).forEach((c) => c.kill("SIGKILL")));

  const heldBy = async (holder: string) => {
    const store = new MemoryStore();
    await store.put(LEASE_KEY, JSON.stringify({ holder, expires_at: Date.now() + 60_000, acquired_at: new Date().toISOString() }));
    return store;
  };
  const live = () => {
    const child = spawn("sleep", ["30"]);
    children.push(child);
    return child.pid!;
  };

  it("records this process's start time in its holder id", () => {
    expect(localHolderId("abc")).toBe(`${hostname()}:${process.pid}:${startOf(process.pid)}.abc`);
  });

  it.each([
    ["an exited process", () => `${hostname()}:4194303:1.abc`, true],
    ["a live process started when the holder did", () => { const pid = live(); return `${hostname()}:${pid}:${startOf(pid)}.abc`; }, false],
    ["another process now running under the holder's pid (reused)", () => `${hostname()}:${live()}:1.abc`, true],
    ["a live process, holder id without a start time (older runtime)", () => `${hostname()}:${live()}:abc`, false],
    ["another machine", () => `elsewhere:1:1.abc`, false],
  ])("%s: taken over at once = %s", async (_what, holder, takenOver) => {
    const store = await heldBy(holder());
    const acquiring = Lease.acquire({ store, holder: localHolderId("me"), onBusy: "exit" });
    if (takenOver) {
      const lease = await acquiring;
      expect(JSON.parse((await store.get(LEASE_KEY))!.body.toString()).holder).toBe(localHolderId("me"));
      await lease.release();
    } else {
      await expect(acquiring).rejects.toBeInstanceOf(LeaseHeld);
    }
  });
});

describe("a lease released on a clean exit", () => {
  it("is taken by the next run without a word; one left by an exited process is taken saying so", async () => {
    const store = new MemoryStore();
    const first = await Lease.acquire({ store, holder: `${hostname()}:4194303:1.first`, onBusy: "exit" });
    await first.release();
    const said: string[] = [];
    const second = await Lease.acquire({ store, holder: localHolderId("second"), onBusy: "exit", log: (m) => said.push(m) });
    expect(said).toEqual([]);
    await second.release();
    // Not released (kill -9): the holder's process is gone, which is worth saying.
    await store.put(LEASE_KEY, JSON.stringify({ holder: `${hostname()}:4194303:1.killed`, expires_at: Date.now() + 60_000, acquired_at: new Date().toISOString() }));
    const third = await Lease.acquire({ store, holder: localHolderId("third"), onBusy: "exit", log: (m) => said.push(m) });
    expect(said).toEqual([`taking over the lease of ${hostname()}:4194303:1.killed: that process on this machine has exited`]);
    await third.release();
  });
});

describe("a lease whose renewals fail (the store cut off)", () => {
  it("is kept while it has not expired (the renewal is retried), and lost, saying why, once it has: another instance may hold it by then", async () => {
    let now = 1_000_000;
    let failing = false;
    const store = new (class extends MemoryStore {
      override async put(...args: Parameters<MemoryStore["put"]>) {
        if (failing) throw new Error("connect ECONNREFUSED 10.0.0.1:443");
        return super.put(...args);
      }
    })();
    const lost: string[] = [];
    const lease = await Lease.acquire({ store, holder: "host:1:1.a", ttlMs: 60_000, now: () => now, onLost: (reason) => lost.push(reason) });
    failing = true;
    now += 30_000;
    await expect(lease.renew()).rejects.toThrow(/ECONNREFUSED/);
    expect(lost).toEqual([]);
    expect(lease.isLost).toBe(false);
    now += 30_000; // the lease written at 1,000,000 expires at 1,060,000
    await lease.renew();
    expect(lost).toEqual([`expired at ${new Date(1_060_000).toISOString()}: the store could not be reached to renew it (connect ECONNREFUSED 10.0.0.1:443), and another instance may hold it now`]);
    expect(lease.isLost).toBe(true);
    // Lost: nothing more is written, and the loss is said once.
    failing = false;
    const puts = store.puts;
    await lease.renew();
    await lease.release();
    expect(store.puts).toBe(puts);
    expect(lost).toHaveLength(1);
  });
});
