/**
 * What the supervisor (a scheduled function, every minute) does about a job:
 * a pure function of the job's status, its groups, the money spent so far
 * and the clock. It enforces what an instance cannot enforce on itself: the
 * on-demand fallback after spot has been missing for a while, the runtime
 * cap and the budget even when the job hangs, the idle stop after the job
 * ends, and "an ended job has every group at zero". A launch failure that
 * waiting cannot fix (quota, AMI, disk, permission: launch-failure.ts) stops
 * the fallback loop and holds every group at zero, recorded with the cloud's
 * message and the fix, until someone scales a group up again. The executor applies the
 * result to the cloud and keeps `state` and `events` in the store.
 */
import { describeCancel, type CancelRequest } from "../cancel";
import { liveState, type JobStatus } from "../status";
import { classifyLaunchFailure, STOPPING_KINDS, type LaunchAttempt, type LaunchFailure } from "./launch-failure";

export interface GroupView {
  name: string;
  /** Instances asked for. */
  desired: number;
  /** Instances launched and billing (whether or not they work). */
  inService: number;
  /** Of those, the ones passing health checks: only these count as capacity doing the job. */
  healthy: number;
  /** Hourly price of one instance in this group. */
  pricePerHour: number;
  /** Instance types the group may launch, and in which market (for the fix of a quota failure). */
  instanceTypes?: string[];
  market?: "spot" | "on-demand";
  /** The group's newest launch attempt (AWS: from its scaling activities; GCP: its instances' lastAttempt), if it has one. */
  lastLaunch?: LaunchAttempt;
}

export interface SupervisorPolicy {
  maxRuntimeMinutes: number | null;
  budgetUsd: number;
  spotFallback: boolean;
  fallbackAfterMinutes: number;
  autostopMinutes: number;
}

/** What the supervisor remembers between runs (kept in the store). */
export interface SupervisorState {
  /** When the supervisor last ran: instance time since then is charged to the budget. */
  lastRunAt?: number;
  /** USD spent across all attempts (instances in service × price × time). */
  spentUsd: number;
  /** Since when the spot group has wanted an instance and had none running. */
  spotMissingSince?: number;
  /** Set once the job has been stopped for good: nothing scales up again. */
  stoppedFor?: string;
  /**
   * A launch failure that waiting cannot fix (quota, image, disk, permission): every group is held at zero until
   * someone scales a group up again after fixing it. Shown by `spotjob status`.
   */
  launchFailure?: LaunchFailure;
  /** Start time of the newest failed launch already acted on: older activities are not read again. */
  launchFailureSeenUntil?: number;
  /** Since when launches have kept failing for a reason waiting cannot fix, before it is confirmed. */
  launchFailureSuspectSince?: number;
}

export interface SupervisorInput {
  now: number;
  status: JobStatus | undefined;
  spot: GroupView;
  onDemand?: GroupView;
  policy: SupervisorPolicy;
  state: SupervisorState;
  /** The region, for the fix of a quota failure. */
  region?: string;
  /** A `spotjob cancel` request not carried out yet. */
  cancel?: CancelRequest;
}

export interface SupervisorDecision {
  /** Desired capacity to set, by group name (only changes). */
  scale: Record<string, number>;
  state: SupervisorState;
  events: string[];
}

const MINUTE = 60_000;
/**
 * A launch must have kept failing this long (Auto Scaling retries meanwhile) before the supervisor stops on it: a
 * quota can refuse one launch for a moment (a preempted spot instance still counts until EC2 notices it is gone).
 */
export const LAUNCH_FAILURE_CONFIRM_MINUTES = 3;
const ENDED = new Set(["SUCCEEDED", "FAILED"]);
/**
 * How long a live runtime gets to carry out a cancel request (it polls every few seconds, then saves progress)
 * before the supervisor scales its group away regardless.
 */
export const CANCEL_GRACE_MINUTES = 5;

export function decide(input: SupervisorInput): SupervisorDecision {
  const { now, status, spot, onDemand, policy } = input;
  const groups = [spot, ...(onDemand ? [onDemand] : [])];
  const events: string[] = [];
  const state: SupervisorState = { ...input.state };

  // Charge the time since the last run at what was running meanwhile.
  if (state.lastRunAt !== undefined && now > state.lastRunAt) {
    const hours = (now - state.lastRunAt) / 3_600_000;
    state.spentUsd += groups.reduce((sum, g) => sum + g.inService * g.pricePerHour * hours, 0);
  }
  state.lastRunAt = now;

  const target = new Map(groups.map((g) => [g.name, g.desired]));
  const stopAll = (reason: string) => {
    if (state.stoppedFor === undefined) events.push(`stopping the job: ${reason}; every group goes to zero`);
    state.stoppedFor ??= reason;
    for (const g of groups) target.set(g.name, 0);
  };

  const startedAt = status ? Date.parse(status.started_at) : undefined;
  let failure: LaunchFailure | undefined;
  if (state.stoppedFor !== undefined) stopAll(state.stoppedFor);
  else if (status?.state === "CANCELLED") stopAll(`the job was cancelled${status.stop_reason ? ` (${status.stop_reason})` : ""}`);
  else if (input.cancel) {
    // A live runtime saves progress and records CANCELLED first; a dead or absent one cannot, so nothing waits for it.
    const live = status !== undefined && liveState(status, now).state !== "LOST" && (status.state === "SETTING_UP" || status.state === "RUNNING");
    if (!live || now - Date.parse(input.cancel.requested_at) >= CANCEL_GRACE_MINUTES * MINUTE) stopAll(describeCancel(input.cancel));
    else events.push(`${describeCancel(input.cancel)}: waiting for the runtime to save progress and stop`);
  } else if (status && ENDED.has(status.state)) {
    const finishedAt = Date.parse(status.finished_at ?? status.heartbeat_at);
    if (now - finishedAt >= policy.autostopMinutes * MINUTE) stopAll(`the job ${status.state === "SUCCEEDED" ? "succeeded" : "failed"} and ${policy.autostopMinutes} idle minute(s) passed`);
  } else if (policy.maxRuntimeMinutes !== null && startedAt !== undefined && now - startedAt >= policy.maxRuntimeMinutes * MINUTE) {
    stopAll(`max_runtime_minutes (${policy.maxRuntimeMinutes}) reached`);
  } else if (state.spentUsd >= policy.budgetUsd) {
    stopAll(`max_total_budget ($${policy.budgetUsd.toFixed(2)}) spent ($${state.spentUsd.toFixed(2)})`);
  } else if (state.launchFailure !== undefined) {
    // Held at zero until someone fixes the cause and scales a group up again: then the failure is history.
    const retried = groups.filter((g) => g.desired > 0);
    if (retried.length > 0) {
      events.push(`${retried.map((g) => g.name).join(", ")} scaled up again after the ${state.launchFailure.kind} failure: watching the launch`);
      state.launchFailure = undefined;
      state.spotMissingSince = now;
    }
  } else if ((failure = observeLaunchFailure(groups, state, input.region)) && now - state.launchFailureSuspectSince! < LAUNCH_FAILURE_CONFIRM_MINUTES * MINUTE) {
    // Not confirmed yet: no fallback either (it would fail the same way), but the spot window keeps counting.
    if (spot.desired > 0 && spot.healthy === 0) state.spotMissingSince ??= now;
  } else if (failure) {
    state.launchFailureSuspectSince = undefined;
    state.launchFailure = failure;
    state.launchFailureSeenUntil = Date.parse(failure.at);
    state.spotMissingSince = undefined;
    for (const g of groups) target.set(g.name, 0);
    events.push(`launch failed in ${failure.group} (${failure.kind}, not missing capacity): ${failure.message}; every group goes to zero, no fallback. Fix: ${failure.fix}`);
  } else if (onDemand && policy.spotFallback) {
    if (spot.desired > 0 && spot.healthy === 0) {
      state.spotMissingSince ??= now;
      if (onDemand.desired === 0 && now - state.spotMissingSince >= policy.fallbackAfterMinutes * MINUTE) {
        // The fallback takes the job over: spot goes to zero with it, so a late or unhealthy spot instance stops billing.
        target.set(onDemand.name, 1);
        target.set(spot.name, 0);
        events.push(`no healthy spot instance for ${policy.fallbackAfterMinutes} minute(s): starting the on-demand fallback, scaling spot to zero`);
      }
    } else if (spot.healthy > 0) {
      state.spotMissingSince = undefined;
      // Spot is back while the fallback runs: one instance does the work, the other stops billing.
      if (onDemand.desired > 0) {
        target.set(spot.name, 0);
        events.push("spot capacity returned while the on-demand fallback runs: keeping the fallback, scaling spot away");
      }
    }
  }

  const scale: Record<string, number> = {};
  for (const g of groups) if (target.get(g.name) !== g.desired) scale[g.name] = target.get(g.name)!;
  return { scale, state, events };
}

/**
 * The newest failed launch, not yet acted on, of a group that wants an instance, when waiting cannot fix it; keeps
 * `launchFailureSuspectSince` (since when launches have kept failing so) up to date, and clears it when none.
 */
function observeLaunchFailure(groups: GroupView[], state: SupervisorState, region: string | undefined): LaunchFailure | undefined {
  const found = launchFailureIn(groups, state, region);
  if (!found) {
    state.launchFailureSuspectSince = undefined;
    return undefined;
  }
  const { failingSince, ...failure } = found;
  // Failed launches from before the last one acted on do not count towards the new streak.
  state.launchFailureSuspectSince ??= failingSince > (state.launchFailureSeenUntil ?? -Infinity) ? failingSince : Date.parse(failure.at);
  return failure;
}

function launchFailureIn(groups: GroupView[], state: SupervisorState, region: string | undefined): (LaunchFailure & { failingSince: number }) | undefined {
  for (const g of groups) {
    const attempt = g.lastLaunch;
    if (g.desired === 0 || !attempt?.failed || attempt.at <= (state.launchFailureSeenUntil ?? -Infinity)) continue;
    const message = attempt.message ?? "launch failed";
    const { kind, fix } = attempt.classified ?? classifyLaunchFailure(message, { instanceTypes: g.instanceTypes ?? [], market: g.market ?? "spot", region });
    if (STOPPING_KINDS.has(kind)) return { kind, message, fix: fix.replaceAll("<group>", g.name), at: new Date(attempt.at).toISOString(), group: g.name, ...(attempt.activityId ? { activityId: attempt.activityId } : {}), ...(attempt.classified ? { cloud: attempt.classified.cloud } : {}), failingSince: attempt.failingSince ?? attempt.at };
  }
  return undefined;
}
