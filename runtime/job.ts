/**
 * One run of a job on one machine: take the lease, run `setup` once per
 * machine, the sweep's pending items, then `run`; keep the status object
 * current; stop cleanly on a signal. Running it again resumes.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedSpec } from "../core/jobspec/load";
import { expandSweep, type SweepItem } from "../core/jobspec/sweep";
import { prepareContainer } from "./exec/container";
import { thisMachine, type InstanceInfo } from "./cloud/host";
import { CANCEL_KEY, describeCancel, readCancel, watchCancel } from "./cancel";
import { historyStamp, RESULTS_KEY, setAsideHistory } from "./history";
import { RunLog } from "./run-log";
import { claimStateDir } from "./state-dir";
import { MIN_MASKED_LENGTH, Redactor, redactingEvents } from "./redact";
import { ChildRegistry } from "./exec/orphans";
import { describeExit, runShell, signalGroup, type ProcessStops, type ShellResult } from "./exec/shell";
import { Lease, LeaseHeld, localHolderId } from "./lease";
import { readStatus, StatusWriter, type JobState } from "./status";
import type { Store } from "./store/store";
import { visibleGpus } from "./sweep/gpus";
import { PYTHON_HELPER, PYTHON_HELPER_MODULE } from "./worker/python-helper";
import { applyResumeFrom } from "./snapshot/resume-from";
import { SnapshotCorruptError, SnapshotMirror } from "./snapshot/mirror";
import { ResumableSweep } from "./sweep/resumable";
import { runSweep, type SweepOutcome } from "./sweep/runner";

/** Exit statuses of the runtime. */
export const RUNTIME_EXIT = {
  succeeded: 0,
  failed: 1,
  /** Another instance holds the lease and `onBusy` was "exit". */
  busy: 4,
  /** Stopped by a signal; running again resumes. */
  interrupted: 75, // EX_TEMPFAIL
  /** Stopped by `spotjob cancel` (progress saved): not restarted; `spotjob run` resumes it. */
  cancelled: 6,
  /** The runtime itself crashed (a bug, not the job's result): a supervisor may restart it. */
  crashed: 70, // EX_SOFTWARE
} as const;

export interface JobEvents {
  /** Output of setup, run, or a sweep item (key). */
  line(source: string, line: string): void;
  info(message: string): void;
  warn(message: string): void;
  /**
   * Sweep progress in this run. `failed`: items that used up their attempts in this run; `retried`: failed attempts
   * that were tried again. Both only grow, so a bar never counts down while retries succeed.
   */
  progress?(outcome: { done: number; failed: number; retried: number; total: number; running: number }): void;
  /** The run is over: nothing more comes but the final message. */
  end?(): void;
}

export interface RunJobOptions {
  spec: ResolvedSpec;
  store: Store;
  /** Machine-local state: journal file, setup marker, scratch. */
  stateDir: string;
  /** Where setup and run execute (the job's workdir). */
  workDir: string;
  signal: AbortSignal;
  events: JobEvents;
  holder?: string;
  onBusy?: "wait" | "exit";
  /** Run a job that already succeeded with this very spec again (otherwise it is left as it is). */
  rerun?: boolean;
  /** Start over: the store's history is set aside under `history/<stamp>/` and this machine's cache of it too. */
  fresh?: boolean;
  leaseTtlMs?: number;
  heartbeatMs?: number;
  graceMs?: number;
  /** A second stop signal: kill what runs now. */
  hurry?: AbortSignal;
  /** On a cloud instance (SPOTJOB_CLOUD set): a missing container engine is an error, not a warning. */
  onCloud?: boolean;
  /** How often the snapshot directory is scanned for changes (ms). */
  snapshotPollMs?: number;
  /** What this attempt runs on (the status shows it); this machine unless told. */
  instance?: InstanceInfo;
  /** How often the store is asked for a cancel request (ms); SPOTJOB_CANCEL_POLL_MS, else 5 s. */
  cancelPollMs?: number;
  /**
   * Reads the job's `secrets` (on a cloud instance): {variable: value}. The
   * values go into the job's environment only, and are masked in all the
   * runtime writes; a rejection is a boot failure with its message.
   */
  secrets?: () => Promise<Record<string, string>>;
}

export interface JobResult {
  state: JobState;
  exitCode: number;
  sweep?: SweepOutcome;
  message: string;
}

export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const { spec, store } = o;
  // Secret values are masked in every line and message the runtime writes.
  const redactor = new Redactor();
  const events = redactingEvents(o.events, redactor);
  const holder = o.holder ?? localHolderId(randomBytes(3).toString("hex"));
  const foreign = await claimStateDir(o.stateDir, store.url);
  if (foreign) return { state: "FAILED", exitCode: RUNTIME_EXIT.failed, message: foreign };
  // Losing the lease stops the work as surely as a signal does.
  const lost = new AbortController();
  let lease: Lease;
  try {
    lease = await Lease.acquire({ store, holder, ttlMs: o.leaseTtlMs, onBusy: o.onBusy ?? "wait", log: events.info, onLost: (reason) => lost.abort(new Error(`lease ${reason}`)) });
  } catch (e) {
    if (e instanceof LeaseHeld) return { state: "PENDING", exitCode: RUNTIME_EXIT.busy, message: `${e.message}; exiting without writing anything` };
    throw e;
  }
  // Only the lease holder reaps: a process group left here belongs to a
  // runtime that died or lost the lease, never to a live instance we wait on.
  const orphans = new ChildRegistry(join(o.stateDir, "children")).reap();
  if (orphans) events.warn(`stopped ${orphans} process group(s) left running by a previous runtime on this machine`);
  if (o.fresh) {
    try {
      await startOver(store, o.stateDir, events.info);
    } catch (e) {
      await lease.release();
      throw e;
    }
  }
  const children = new ChildRegistry(join(o.stateDir, "children"));

  const previous = await readStatus(store);
  // Finished with this very spec: nothing to do (a second instance that waited out the lease lands here too).
  const specSha256 = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
  if (!o.rerun && previous?.state === "SUCCEEDED" && previous.spec_sha256 === specSha256) {
    // This machine may never have run it (or its process was killed after the last write): the results come from the store.
    try {
      if (spec.sweep) await store.getToFile(RESULTS_KEY, join(o.stateDir, "results.jsonl"));
    } finally {
      await lease.release();
    }
    return { state: "SUCCEEDED", exitCode: RUNTIME_EXIT.succeeded, message: `already finished (${previous.finished_at ?? previous.heartbeat_at}) with this spec: nothing run; \`--rerun\` runs it again` };
  }
  const items = spec.sweep ? expandOrThrow(spec) : [];
  const now = new Date().toISOString();
  const status = new StatusWriter(store, {
    job: spec.name,
    state: "SETTING_UP",
    holder,
    items: { done: 0, failed: 0, total: items.length },
    attempts: (previous?.attempts ?? 0) + 1,
    started_at: previous?.started_at ?? now,
    heartbeat_at: now,
    run_seconds: previous?.run_seconds ?? 0,
    ...(previous?.market_seconds ? { market_seconds: previous.market_seconds } : {}),
    instance: o.instance ?? thisMachine(),
    spec_sha256: specSha256,
  });
  const log = new RunLog(store, join(o.stateDir, "logs"), status.current.attempts);
  await log.salvage().catch((e) => events.warn(`could not copy earlier logs to the store: ${(e as Error).message}`));
  const line = (source: string, text: string) => {
    const shown = redactor.apply(text);
    log.write(`[${source}] ${shown}`);
    o.events.line(source, shown);
  };
  const heartbeat = setInterval(() => void status.update({}).catch(() => undefined), o.heartbeatMs ?? 15_000);
  heartbeat.unref();

  // The synced snapshot directory: programs keep their own progress files here.
  const snapshotDir = join(o.stateDir, "snapshot");
  const mirror = new SnapshotMirror({ store, dir: snapshotDir, syncedMarker: join(o.stateDir, "snapshot.synced"), pollMs: o.snapshotPollMs, onWarning: events.warn });
  let mirroring = false;
  // A stop reaches the job's processes only after the snapshot mirror has kept
  // a complete copy of what they wrote (at most a second, see `capture`), so a
  // progress file is not caught half-rewritten; a second signal skips the wait.
  // max_runtime_minutes caps the job's running time, all attempts together: reaching it stops the job as a signal
  // does (progress saved), and it ends FAILED, saying so.
  const capped = new AbortController();
  const capMinutes = spec.max_runtime_minutes;
  const capTimer = capMinutes === undefined ? undefined : setTimeout(() => capped.abort(new Error(capReached(capMinutes))), Math.max(0, capMinutes * 60_000 - status.runSeconds() * 1000));
  capTimer?.unref();
  // `spotjob cancel` stops the job as a signal does, and it ends CANCELLED.
  const cancelled = new AbortController();
  const watching = new AbortController();
  watchCancel(store, o.cancelPollMs ?? (Number(process.env.SPOTJOB_CANCEL_POLL_MS) || 5000), watching.signal, (request) => cancelled.abort(new Error(describeCancel(request))));
  const stopRequested = AbortSignal.any([o.signal, lost.signal, capped.signal, cancelled.signal]);
  const stopGate = new AbortController();
  const signal = stopGate.signal;
  const passStop = () => stopGate.abort(stopRequested.reason ?? new Error("stopped"));
  // While the copy is taken the job's processes are paused, so no file changes under it.
  const freezer = { pause: () => children.alive().forEach((g) => signalGroup(g, "SIGSTOP")), resume: () => children.alive().forEach((g) => signalGroup(g, "SIGCONT")) };
  stopRequested.addEventListener(
    "abort",
    () =>
      void (mirroring ? mirror.capture(1000, freezer).catch(() => undefined) : Promise.resolve()).then(() => {
        passStop(); // the signal reaches the paused processes first ...
        freezer.resume(); // ... and is what they handle when they go on
      }),
    { once: true },
  );
  o.hurry?.addEventListener("abort", passStop, { once: true });
  if (stopRequested.aborted) passStop();
  const stops = { signal, stopping: stopRequested, graceMs: o.graceMs, hurry: o.hurry } satisfies ProcessStops;
  // `from spotjob_worker import serve` works in every command.
  const pythonDir = join(o.stateDir, "python");
  mkdirSync(pythonDir, { recursive: true });
  writeFileSync(join(pythonDir, `${PYTHON_HELPER_MODULE}.py`), PYTHON_HELPER);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...spec.envs,
    PYTHONPATH: [pythonDir, spec.envs.PYTHONPATH ?? process.env.PYTHONPATH].filter(Boolean).join(":"),
    SPOTJOB_JOB: spec.name,
    SPOTJOB_STORE: store.url,
    SWEEP_SNAPSHOT_DIR: snapshotDir,
    SPOTJOB_CHECKPOINT_DIR: snapshotDir,
  };
  const finish = async (state: JobState, exitCode: number, message: string, extra: { sweep?: SweepOutcome } = {}): Promise<JobResult> => {
    clearInterval(heartbeat);
    clearTimeout(capTimer);
    watching.abort();
    // Stopped by the cap, not by a signal: the job did not finish, and running it again will not give it more time.
    if (state === "INTERRUPTED" && capped.signal.aborted && !o.signal.aborted) [state, exitCode, message] = ["FAILED", RUNTIME_EXIT.failed, `${(capped.signal.reason as Error).message} (${message}); progress is saved: raise max_runtime_minutes and run again to go on`];
    if (state === "INTERRUPTED" && cancelled.signal.aborted && !o.signal.aborted) [state, exitCode, message] = ["CANCELLED", RUNTIME_EXIT.cancelled, `${(cancelled.signal.reason as Error).message} (${message}); progress is saved: \`spotjob run\` resumes it`];
    message = redactor.apply(message);
    let saveError: string | undefined;
    if (mirroring) {
      // The job's processes have stopped: whatever they wrote goes to the store before we exit.
      try {
        await mirror.flush();
      } catch (e) {
        saveError = `could not save the snapshot directory: ${(e as Error).message}`;
        events.warn(saveError);
        if (state === "SUCCEEDED") [state, exitCode, message] = ["FAILED", RUNTIME_EXIT.failed, saveError];
      }
    }
    const stopReason = state === "INTERRUPTED" ? String((signal.reason as Error | undefined)?.message ?? signal.reason ?? "stop signal") : state === "CANCELLED" ? (cancelled.signal.reason as Error).message : undefined;
    // The log first: `spotjob logs -f` stops at the final status, and everything before it must be there to read.
    await log.flush();
    await status.update({
      state,
      exit_code: exitCode,
      ...(state === "SUCCEEDED" || state === "FAILED" ? { finished_at: new Date().toISOString() } : {}),
      // A stopped job keeps its state; what could not be saved is still said.
      ...(state === "FAILED" ? { last_error: message } : saveError ? { last_error: saveError } : {}),
      ...(stopReason ? { stop_reason: stopReason } : {}),
    });
    // Carried out (or overtaken by the job's end): the request goes, so the next run is not cancelled by it.
    if (cancelled.signal.aborted) await store.delete(CANCEL_KEY).catch((e) => events.warn(`could not remove the carried-out cancel request: ${(e as Error).message}`));
    await lease.release();
    return { state, exitCode, message, ...extra };
  };

  try {
    // Asked before this runtime started (a cloud instance still booting, a runtime that died first): nothing runs.
    const pending = await readCancel(store);
    // A cloud instance that boots after the job was cancelled (a replacement, a fallback) does not resume it.
    if (!pending && o.onCloud && previous?.state === "CANCELLED") {
      cancelled.abort(new Error(previous.stop_reason ?? "cancelled"));
      return await finish("CANCELLED", RUNTIME_EXIT.cancelled, `the job was cancelled (${previous.stop_reason ?? "no reason recorded"}): nothing run on this instance`);
    }
    if (pending) {
      cancelled.abort(new Error(describeCancel(pending)));
      return await finish("CANCELLED", RUNTIME_EXIT.cancelled, `${describeCancel(pending)}: nothing run; \`spotjob run\` resumes it`);
    }
    await status.update({ state: "SETTING_UP" });
    for (const [name, value] of Object.entries(o.secrets ? await o.secrets() : {})) {
      if (!redactor.add(value)) events.warn(`secret ${name} is shorter than ${MIN_MASKED_LENGTH} characters, too short to be masked in logs`);
      env[name] = value;
    }
    try {
      const restored = await mirror.restore();
      if (restored) events.info(`restored ${restored} file(s) of the snapshot directory from the store`);
    } catch (e) {
      if (!(e instanceof SnapshotCorruptError)) throw e;
      return await finish("FAILED", RUNTIME_EXIT.failed, `${e.message}; fix or remove the store's snapshot/ to start afresh`);
    }
    mirror.start();
    mirroring = true;
    const resumeError = await applyResumeFrom(spec.envs.SWEEP_RESUME_FROM, env, join(o.stateDir, "resume"), snapshotDir, events.info);
    if (resumeError) return await finish("FAILED", RUNTIME_EXIT.failed, resumeError);
    const container = await prepareContainer({
      image: spec.container_image,
      onCloud: o.onCloud ?? false,
      workDir: o.workDir,
      mounts: [o.stateDir],
      specEnvNames: [...Object.keys(spec.envs), ...Object.keys(spec.secrets ?? {})],
      gpus: visibleGpus(env).length > 0,
      stateDir: o.stateDir,
      warn: events.warn,
      pull: async (command) => (await runShell({ script: command, cwd: o.workDir, env, signal, stopping: stops.stopping, onLine: (l) => line("pull", l) })).code,
    });
    if ("error" in container) return await finish("FAILED", RUNTIME_EXIT.failed, container.error);
    const wrap = container.wrap ?? ((script: string) => script);
    const setup = await runSetupOnce(spec.setup, o, env, children, stops, line, wrap);
    if (setup && signal.aborted) return await finish("INTERRUPTED", RUNTIME_EXIT.interrupted, "stopped during setup");
    if (setup && setup.code !== 0) return await finish("FAILED", RUNTIME_EXIT.failed, `setup failed (${describeExit(setup)})`);

    await status.update({ state: "RUNNING" });
    let outcome: SweepOutcome | undefined;
    let failedKeys: string[] = [];
    const resultsFile = join(o.stateDir, "results.jsonl");
    if (spec.sweep) {
      const sweep = await ResumableSweep.open({ items, key: (i: SweepItem) => i.key, checkpointPath: join(o.stateDir, "journal.jsonl"), store, onWarning: (w) => events.warn(w.message) });
      try {
        const failedTries = new Map<string, number>();
        let [failedForGood, retried] = [0, 0];
        const progress = (running: number) => {
          const { done, failed, total } = sweep.counts();
          events.progress?.({ done, failed: failedForGood, retried, total, running });
          void status.update({ items: { done, failed, total } }).catch(() => undefined);
        };
        progress(0);
        const slots = sweepSlots(spec, env, events);
        outcome = await runSweep({
          sweep,
          command: spec.sweep.command,
          worker: spec.sweep.worker,
          slots,
          maxAttempts: spec.sweep.max_attempts,
          cwd: o.workDir,
          env,
          scratchDir: join(o.stateDir, "scratch"),
          children,
          ...stops,
          wrap: container.wrap,
          redact: (text) => redactor.apply(text),
          onLine: line,
          onRecord: (record) => {
            if (record.status === "failed") {
              const tries = (failedTries.get(record.key) ?? 0) + 1;
              failedTries.set(record.key, tries);
              if (tries >= spec.sweep!.max_attempts) failedForGood++;
              else retried++;
            }
            const { done, total } = sweep.counts();
            progress(Math.min(slots.length, total - done));
          },
        });
        failedKeys = sweep.results().flatMap((r) => (r.status === "failed" ? [r.key] : []));
        writeFileSync(resultsFile, sweep.results().map((r) => `${JSON.stringify(r)}\n`).join(""));
        await store.put(RESULTS_KEY, readFileSync(resultsFile));
        await status.update({ items: { done: outcome.done, failed: outcome.failed, total: outcome.total } });
      } finally {
        await sweep.close();
      }
      if (outcome.interrupted) return await finish("INTERRUPTED", RUNTIME_EXIT.interrupted, `stopped with ${outcome.done}/${outcome.total} items done`, { sweep: outcome });
      if (outcome.done < outcome.total) {
        return await finish("FAILED", RUNTIME_EXIT.failed, `${outcome.total - outcome.done} of ${outcome.total} items failed after ${spec.sweep.max_attempts} attempt(s): ${listKeys(failedKeys)}; their exit codes and output tails are in results.jsonl; run again to retry them`, { sweep: outcome });
      }
    }
    if (spec.run.trim()) {
      const run = await runShell({ script: wrap(spec.run), cwd: o.workDir, env: { ...env, SWEEP_RESULTS: resultsFile }, ...stops, onStart: (p) => children.add(p), onLine: (l) => line("run", l) });
      if (signal.aborted) return await finish("INTERRUPTED", RUNTIME_EXIT.interrupted, "stopped during run", { sweep: outcome });
      if (run.code !== 0) return await finish("FAILED", RUNTIME_EXIT.failed, `run failed (${describeExit(run)})`, { sweep: outcome });
    }
    return await finish("SUCCEEDED", RUNTIME_EXIT.succeeded, outcome ? `all ${outcome.total} items done` : "run finished", { sweep: outcome });
  } catch (e) {
    const message = (e as Error).message;
    return await finish(signal.aborted ? "INTERRUPTED" : "FAILED", signal.aborted ? RUNTIME_EXIT.interrupted : RUNTIME_EXIT.failed, message);
  }
}

/**
 * `--fresh`: the store's history goes to `history/<stamp>/` and this
 * machine's cache of it (local journal, logs, setup marker) beside it, as
 * `<state>.before-<stamp>`; nothing is deleted.
 */
async function startOver(store: Store, stateDir: string, log: (message: string) => void): Promise<void> {
  const now = new Date();
  const aside = await setAsideHistory(store, now);
  log(aside ? `--fresh: the previous history (${aside.objects} object(s), ${aside.bytes} bytes) is kept in ${store.url} under ${aside.prefix}` : "--fresh: the store holds no earlier history");
  const cache = `${stateDir}.before-${historyStamp(now)}`;
  renameSync(stateDir, cache);
  const refused = await claimStateDir(stateDir, store.url);
  if (refused) throw new Error(refused);
  log(`--fresh: this machine's cache of it is kept in ${cache}`);
}

/** The failed items by key, the first few of many: enough to start looking. */
export function listKeys(keys: string[], shown = 10): string {
  return keys.length <= shown ? keys.join(", ") : `${keys.slice(0, shown).join(", ")} and ${keys.length - shown} more`;
}

function capReached(minutes: number): string {
  return `max_runtime_minutes (${minutes}) reached`;
}

function expandOrThrow(spec: ResolvedSpec): SweepItem[] {
  const expansion = expandSweep(spec.sweep!);
  if (!expansion.ok) throw new Error(`invalid sweep: ${expansion.problems[0].message}`);
  return expansion.items;
}

function sweepSlots(spec: ResolvedSpec, env: NodeJS.ProcessEnv, events: JobEvents): Array<{ devices?: string }> {
  const parallel = spec.sweep!.parallel;
  if (parallel !== "gpus") return Array.from({ length: parallel }, () => ({}));
  const gpus = visibleGpus(env);
  if (gpus.length === 0) {
    events.warn("parallel: gpus, but no GPU is visible on this machine: running one item at a time");
    return [{}];
  }
  return gpus.map((devices) => ({ devices }));
}

/** Runs setup unless this machine already finished this exact setup; undefined when skipped. */
async function runSetupOnce(
  script: string,
  o: RunJobOptions,
  env: NodeJS.ProcessEnv,
  children: ChildRegistry,
  stops: ProcessStops & { signal: AbortSignal },
  line: (source: string, text: string) => void,
  wrap: (script: string) => string,
): Promise<ShellResult | undefined> {
  if (!script.trim()) return undefined;
  const marker = join(o.stateDir, "setup.done");
  const digest = createHash("sha256").update(script).digest("hex");
  if (existsSync(marker) && readFileSync(marker, "utf8") === digest) {
    o.events.info("setup already finished on this machine: skipping it");
    return undefined;
  }
  const result = await runShell({ script: wrap(script), cwd: o.workDir, env, ...stops, onStart: (p) => children.add(p), onLine: (l) => line("setup", l) });
  if (result.code === 0 && !stops.signal.aborted) writeFileSync(marker, digest);
  return result;
}

