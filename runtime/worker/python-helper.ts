/**
 * The Python side of the worker protocol, shipped inside the runtime bundle
 * and put on PYTHONPATH for every command as `spotjob_worker`, so a user
 * writes one function:
 *
 *   from spotjob_worker import serve
 *   model = load()            # paid once per slot, not per item
 *   serve(lambda item: {"loss": train(model, **item)})
 *
 * One file, standard library only.
 */
export const PYTHON_HELPER_MODULE = "spotjob_worker";

export const PYTHON_HELPER = String.raw`"""spotjob worker protocol, version 1 (see the spotjob README).

Items arrive on stdin, one JSON object per line: {"key": ..., "item": {...}, "attempt": n}.
Results leave on file descriptor 3 (or, in a container, the named pipe at
$SPOTJOB_WORKER_RESULTS), one JSON object per line:
{"key": ..., "ok": true, "result": ...} or {"key": ..., "ok": false, "error": "..."}.
stdout and stderr stay free for the user's prints and logs.
"""
import json
import os
import sys
import traceback

PROTOCOL = 1


def serve(handle):
    """Calls handle(item) for each item the runtime sends; its return value (JSON) is the item's result."""
    path = os.environ.get("SPOTJOB_WORKER_RESULTS")
    results = open(path, "w", buffering=1) if path else os.fdopen(3, "w", buffering=1)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        os.environ["SWEEP_KEY"] = message["key"]
        os.environ["SWEEP_ATTEMPT"] = str(message.get("attempt", 1))
        try:
            result = handle(message["item"])
            reply = {"key": message["key"], "ok": True, "result": result}
            text = json.dumps(reply)
        except Exception as error:  # the item failed, the worker lives on
            traceback.print_exc()
            text = json.dumps({"key": message["key"], "ok": False, "error": f"{type(error).__name__}: {error}"})
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(text + "\n")
`;
