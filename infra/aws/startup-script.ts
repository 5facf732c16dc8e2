/**
 * The AWS instance's startup script (EC2 user data, run as root at boot):
 * a Node.js if the image lacks one, the runtime, spec and workdir from S3, a
 * launcher, and a systemd unit that restarts the runtime after a crash but
 * not after the job's end or a stop. Pure. Every value is assigned once, as a
 * single-quoted literal, at the top; the rest of the text is fixed and reads
 * the values only as "$VAR", so no value can become code.
 */

export interface StartupScriptArgs {
  /** Job name (spec.name). Only ever a shell value, never code. */
  jobName: string;
  region: string;
  bucket: string;
  /** The job's key prefix, no slashes at either end; the store is s3://<bucket>/<prefix>. */
  prefix: string;
  /** S3 keys (within bucket) of the uploaded objects. */
  runtimeKey: string; // the bundled runtime, runtime.cjs
  specKey: string; // the resolved spec as JSON; its workdir field is "work" (relative to the spec file)
  workdirKey?: string; // the workdir as a .tar.gz, extracted into $ROOT/work
  /** The job's Auto Scaling groups, given to the runtime as SPOTJOB_AWS_GROUPS (comma-joined). */
  groupNames: string[];
  /** Grace period for the job on a stop signal (SPOTJOB_GRACE_SECONDS), default 20. */
  graceSeconds?: number;
}

/** The oldest Node.js major the runtime runs on (the bundle's target; Node 20 reached end of life on 2026-04-30). */
export const NODE_MIN_MAJOR = 22;

/** The Node.js the script installs where the image has none, or one older than NODE_MIN_MAJOR: a 24 LTS (supported to 2028-04). */
export const NODE_PIN: { version: "24.11.1"; sha256: { x64: string; arm64: string } } = {
  version: "24.11.1",
  // SHASUMS256.txt of https://nodejs.org/dist/v24.11.1/ (node-v24.11.1-linux-{x64,arm64}.tar.xz), as two independent
  // public pinning files (a Bazel toolchain table and a sysroot manifest) also record them.
  sha256: {
    x64: "60e3b0a8500819514aca603487c254298cd776de0698d3cd08f11dba5b8289a8",
    arm64: "6b0863fb9f627bf4a6c5948dce1de4398174a2e05dbe717503d828e211ca01f0",
  },
};

/** A bash single-quoted literal: nothing inside it is expanded, newlines included. */
function shellLiteral(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function check(a: StartupScriptArgs): void {
  const fail = (what: string, why: string) => {
    throw new Error(`startup script: ${what} ${why}`);
  };
  const strings: [string, string | undefined][] = [
    ["jobName", a.jobName],
    ["region", a.region],
    ["bucket", a.bucket],
    ["prefix", a.prefix],
    ["runtimeKey", a.runtimeKey],
    ["specKey", a.specKey],
    ["workdirKey", a.workdirKey],
    ...a.groupNames.map((g, i): [string, string] => [`groupNames[${i}]`, g]),
  ];
  for (const [what, value] of strings) {
    if (value === undefined) continue;
    if (value === "") fail(what, "is empty");
    // Bash variables cannot hold NUL: the value would be cut short silently.
    if (value.includes("\0")) fail(what, "contains a NUL byte");
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(a.region)) fail("region", `${JSON.stringify(a.region)} is not an AWS region`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(a.bucket)) fail("bucket", `${JSON.stringify(a.bucket)} is not an S3 bucket name`);
  // The runtime drops empty segments of the store URL; the role's policy would not.
  if (a.prefix.split("/").some((s) => s === "")) fail("prefix", "must have no slash at either end and no empty segment");
  for (const [i, g] of a.groupNames.entries()) {
    // SPOTJOB_AWS_GROUPS is comma-joined and the runtime trims each name.
    if (g.includes(",") || g.trim() !== g) fail(`groupNames[${i}]`, "must hold no comma and no surrounding whitespace");
  }
  const grace = a.graceSeconds ?? 20;
  if (!Number.isSafeInteger(grace) || grace < 0) fail("graceSeconds", "must be a whole number of seconds, 0 or more");
}

export function renderStartupScript(a: StartupScriptArgs): string {
  check(a);
  const grace = a.graceSeconds ?? 20;
  const values: [string, string][] = [
    ["JOB_NAME", a.jobName],
    ["REGION", a.region],
    ["BUCKET", a.bucket],
    ["PREFIX", a.prefix],
    ["RUNTIME_KEY", a.runtimeKey],
    ["SPEC_KEY", a.specKey],
    ["WORKDIR_KEY", a.workdirKey ?? ""],
    ["ASG_NAMES", a.groupNames.join(",")],
    ["GRACE_SECONDS", String(grace)],
    // systemd's SIGKILL must come after the runtime's own grace period and its final uploads.
    ["STOP_TIMEOUT_SECONDS", String(grace + 30)],
    ["NODE_VERSION", NODE_PIN.version],
    ["NODE_SHA256_X64", NODE_PIN.sha256.x64],
    ["NODE_SHA256_ARM64", NODE_PIN.sha256.arm64],
  ];
  return [
    "#!/bin/bash",
    "# spotjob: starts the job's runtime on this instance (EC2 user data, run as root at boot).",
    "set -euo pipefail",
    "umask 077",
    "",
    "# The only place values appear; below, they are read as \"$VAR\" and never become code.",
    // shellcheck flags `$(...)` in single quotes as a likely mistake; here it is the point.
    ...values.flatMap(([name, value]) => [...(/[$`]/.test(value) ? ["# shellcheck disable=SC2016"] : []), `${name}=${shellLiteral(value)}`]),
    "",
    'ROOT="${SPOTJOB_ROOT:-/opt/spotjob}"',
    "log() { printf 'spotjob: %s\\n' \"$*\" >&2; }",
    'log "starting job $JOB_NAME"',
    "",
    "use_systemd=",
    'if [ -d /run/systemd/system ] && [ -z "${SPOTJOB_FOREGROUND:-}" ]; then use_systemd=1; fi',
    'if [ -n "$use_systemd" ]; then',
    "  # ExecStart= takes the path unquoted: refuse a ROOT systemd would read differently.",
    '  if ! [[ "$ROOT" =~ ^/[A-Za-z0-9._/-]+$ ]]; then log "SPOTJOB_ROOT must be an absolute path of letters, digits and ._/-"; exit 1; fi',
    "  # A unit left enabled by an earlier boot may already run: stop it (it saves its progress) before its files are replaced.",
    "  if systemctl is-active --quiet spotjob.service; then log \"stopping the runtime started at boot\"; systemctl stop spotjob.service; fi",
    "fi",
    'mkdir -p "$ROOT/bin" "$ROOT/state"',
    "",
    `# Node.js: the image's own if it is ${NODE_MIN_MAJOR} or newer, else a pinned build checked against its published SHA-256.`,
    "NODE=",
    "if command -v node >/dev/null 2>&1; then",
    '  major="$(node --version 2>/dev/null || true)"',
    '  major="${major#v}"',
    '  major="${major%%.*}"',
    `  if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge ${NODE_MIN_MAJOR} ]; then NODE="$(command -v node)"; fi`,
    "fi",
    'if [ -z "$NODE" ]; then',
    '  NODE="$ROOT/node/bin/node"',
    "  # Installed and verified on an earlier boot: keep it.",
    '  if [ "$("$NODE" --version 2>/dev/null || true)" != "v$NODE_VERSION" ]; then',
    '    case "$(uname -m)" in',
    '      x86_64) arch=x64; sha256="$NODE_SHA256_X64" ;;',
    '      aarch64 | arm64) arch=arm64; sha256="$NODE_SHA256_ARM64" ;;',
    '      *) log "no Node.js build for this machine ($(uname -m))"; exit 1 ;;',
    "    esac",
    '    tarball="node-v$NODE_VERSION-linux-$arch.tar.xz"',
    '    log "downloading Node.js $NODE_VERSION ($arch)"',
    '    curl -fsSL --retry 5 --retry-delay 2 -o "$ROOT/$tarball" "${SPOTJOB_NODE_DIST:-https://nodejs.org/dist}/v$NODE_VERSION/$tarball"',
    '    actual="$(sha256sum "$ROOT/$tarball" | cut -d " " -f 1)"',
    '    if [ "$actual" != "$sha256" ]; then',
    '      rm -f "$ROOT/$tarball"',
    '      log "refusing $tarball: its SHA-256 is $actual, not the published $sha256 (a corrupted or tampered download)"',
    "      exit 1",
    "    fi",
    '    rm -rf "$ROOT/node" "$ROOT/node.new"',
    '    mkdir -p "$ROOT/node.new"',
    '    tar -xJf "$ROOT/$tarball" -C "$ROOT/node.new" --strip-components=1 --no-same-owner',
    '    mv "$ROOT/node.new" "$ROOT/node"',
    '    rm -f "$ROOT/$tarball"',
    "  fi",
    "fi",
    'log "using Node.js $("$NODE" --version)"',
    "",
    "# s3_get KEY DEST: the instance role or the network may not be ready this early in boot, so try a few times.",
    "s3_get() {",
    "  local try",
    "  for try in 1 2 3 4 5; do",
    '    if aws s3 cp --only-show-errors --region "$REGION" "s3://$BUCKET/$1" "$2.part"; then',
    '      mv "$2.part" "$2"',
    "      return 0",
    "    fi",
    '    if [ "$try" -lt 5 ]; then',
    '      log "download failed (try $try of 5); trying again"',
    '      sleep "$((try * try * 2))"',
    "    fi",
    "  done",
    '  log "cannot download from s3://$BUCKET after 5 tries"',
    "  return 1",
    "}",
    'log "fetching runtime"',
    's3_get "$RUNTIME_KEY" "$ROOT/runtime.cjs"',
    'log "fetching spec"',
    's3_get "$SPEC_KEY" "$ROOT/spec.json"',
    "# The workdir is fresh at every boot; progress lives in the store and in $ROOT/state.",
    'rm -rf "$ROOT/work.new"',
    'mkdir -p "$ROOT/work.new"',
    'if [ -n "$WORKDIR_KEY" ]; then',
    '  log "fetching workdir"',
    '  s3_get "$WORKDIR_KEY" "$ROOT/work.tar.gz"',
    '  tar -xzf "$ROOT/work.tar.gz" -C "$ROOT/work.new" --no-same-owner',
    '  rm -f "$ROOT/work.tar.gz"',
    "fi",
    'rm -rf "$ROOT/work"',
    'mv "$ROOT/work.new" "$ROOT/work"',
    "",
    "# The launcher: values written with %q, so the file is code only where we wrote code.",
    'log "writing $ROOT/bin/start"',
    "{",
    "  printf '%s\\n' '#!/bin/bash' 'set -euo pipefail'",
    "  printf 'export %s=%q\\n' SPOTJOB_CLOUD aws SPOTJOB_AWS_GROUPS \"$ASG_NAMES\" AWS_REGION \"$REGION\" AWS_DEFAULT_REGION \"$REGION\" SPOTJOB_GRACE_SECONDS \"$GRACE_SECONDS\"",
    "  # A custom endpoint (an emulator in tests) reaches the runtime under systemd too; unset on a real instance.",
    "  if [ -n \"${AWS_ENDPOINT_URL:-}\" ]; then printf 'export %s=%q\\n' AWS_ENDPOINT_URL \"$AWS_ENDPOINT_URL\"; fi",
    "  printf 'exec %q %q run --spec %q --store %q --state %q\\n' \"$NODE\" \"$ROOT/runtime.cjs\" \"$ROOT/spec.json\" \"s3://$BUCKET/$PREFIX\" \"$ROOT/state\"",
    '} >"$ROOT/bin/start.new"',
    'chmod 0700 "$ROOT/bin/start.new"',
    'mv "$ROOT/bin/start.new" "$ROOT/bin/start"',
    "",
    'if [ -z "$use_systemd" ]; then',
    '  log "running the runtime in the foreground"',
    '  exec "$ROOT/bin/start"',
    "fi",
    "# Exit 1 (the job failed, recorded), 4 (another instance holds the job), 6 (cancelled) and 75 (stopped) are final;",
    "# 70 (the runtime crashed) and a kill are restarted.",
    'unit="/etc/systemd/system/spotjob.service"',
    "{",
    "  printf '%s\\n' '[Unit]' 'Description=spotjob runtime' 'Wants=network-online.target' 'After=network-online.target' '' '[Service]' 'Type=simple'",
    "  printf 'ExecStart=%s\\n' \"$ROOT/bin/start\"",
    "  printf '%s\\n' 'Restart=on-failure' 'RestartSec=5' 'RestartPreventExitStatus=1 4 6 75' 'KillMode=mixed'",
    "  printf 'TimeoutStopSec=%s\\n' \"$STOP_TIMEOUT_SECONDS\"",
    "  printf '%s\\n' 'StandardOutput=journal' '' '[Install]' 'WantedBy=multi-user.target'",
    '} >"$unit.new"',
    'chmod 0644 "$unit.new"',
    'mv "$unit.new" "$unit"',
    "systemctl daemon-reload",
    "systemctl enable --now spotjob.service",
    'log "runtime started as spotjob.service (journalctl -u spotjob)"',
    "",
  ].join("\n");
}
