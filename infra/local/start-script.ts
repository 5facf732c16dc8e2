/**
 * The shell that starts and stops the runtime for a `provider: local`
 * stack. Pure: values never enter the script text; they arrive as
 * environment variables, so no spec value can break out of its quotes.
 */

/** Variables the scripts read; the component sets them. */
export const LOCAL_ENV = ["SPOTJOB_NODE", "SPOTJOB_RUNTIME", "SPOTJOB_SPEC", "SPOTJOB_STORE", "SPOTJOB_STATE"] as const;

/** Starts the runtime in the background, detached from Pulumi, and records its pid. */
export function renderLocalStart(): string {
  return [
    "set -euo pipefail",
    'mkdir -p "$SPOTJOB_STATE"',
    'pidfile="$SPOTJOB_STATE/runtime.pid"',
    // A runtime of this stack that is still running is left alone: it resumes by itself.
    'if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "runtime already running (pid $(cat "$pidfile"))"; exit 0; fi',
    'nohup setsid "$SPOTJOB_NODE" "$SPOTJOB_RUNTIME" run --spec "$SPOTJOB_SPEC" --store "$SPOTJOB_STORE" --state "$SPOTJOB_STATE" >>"$SPOTJOB_STATE/runtime.log" 2>&1 </dev/null &',
    'echo $! >"$pidfile"',
    'echo "runtime started (pid $!); log: $SPOTJOB_STATE/runtime.log"',
  ].join("\n");
}

/** Stops the runtime gracefully (SIGTERM: finished items are kept) and waits for it. */
export function renderLocalStop(): string {
  return [
    "set -euo pipefail",
    'pidfile="$SPOTJOB_STATE/runtime.pid"',
    '[ -f "$pidfile" ] || exit 0',
    'pid="$(cat "$pidfile")"',
    'if kill -TERM "$pid" 2>/dev/null; then',
    '  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done',
    '  kill -KILL "$pid" 2>/dev/null || true',
    "fi",
    'rm -f "$pidfile"',
    'echo "runtime stopped; progress is kept in $SPOTJOB_STORE"',
  ].join("\n");
}
