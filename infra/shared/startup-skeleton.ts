/**
 * What every cloud's startup script shares (run as root at boot): the header,
 * the value block, ROOT and systemd detection, Node.js, the fetch of the
 * runtime, spec and workdir, the launcher, and the systemd unit that restarts
 * the runtime after a crash but not after the job's end or a stop. A cloud
 * adds its values, its download function and its instance environment. Pure.
 *
 * The safety rule: every value is assigned once, as a single-quoted literal,
 * in the value block at the top; the rest of the text is fixed and reads the
 * values only as "$VAR", so no value can become code. The parts a cloud
 * passes in that become code (names, shell words) are checked here.
 */

import { shellAssignments } from "./shell";

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

/** The cloud's values the skeleton's text reads. */
const REQUIRED_VALUES = ["JOB_NAME", "RUNTIME_KEY", "SPEC_KEY", "WORKDIR_KEY"];
/** The skeleton's own variables: a cloud value of the same name would be overwritten, or overwrite them. */
const SKELETON_VARIABLES = ["STOP_TIMEOUT_SECONDS", "NODE_VERSION", "NODE_SHA256_X64", "NODE_SHA256_ARM64", "ROOT", "NODE", "use_systemd", "major", "arch", "sha256", "tarball", "actual", "unit"];

export interface StartupScriptParts {
  /** How the cloud runs the script, for its header: "EC2 user data". */
  bootSource: string;
  /**
   * The cloud's values, in order, as [script variable, value]. Must include
   * JOB_NAME, RUNTIME_KEY, SPEC_KEY and WORKDIR_KEY (empty: no workdir), which
   * the skeleton reads.
   */
  values: [string, string][];
  /** systemd's SIGKILL after a stop signal: after the runtime's own grace period and its final uploads. */
  stopTimeoutSeconds: number;
  /** Lines defining the download function `<download> KEY DEST` (and what it needs), placed after Node.js is installed. */
  downloadFunction: string[];
  /** The download function's name. */
  download: string;
  /** The launcher's exports, in order: [environment variable, shell word] (a bare word or "$VAR"). */
  exports: [string, string][];
  /** Variables the launcher copies when set where the script runs (emulator endpoints in tests; unset on a real instance). */
  passThrough: string[];
  /** The store URL, as a shell word. */
  storeUrl: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A word the skeleton may write as code: a bare word of safe characters, or a quoted expansion of values. */
const WORD = /^(?:[A-Za-z0-9_.-]+|"(?:[A-Za-z0-9_:/.-]|\$[A-Za-z_][A-Za-z0-9_]*)+")$/;

function checkParts(p: StartupScriptParts): void {
  const fail = (why: string) => {
    throw new Error(`startup script skeleton: ${why}`);
  };
  const names = p.values.map(([name]) => name);
  for (const name of names) if (!NAME.test(name)) fail(`${JSON.stringify(name)} is not a shell variable name`);
  for (const name of REQUIRED_VALUES) if (!names.includes(name)) fail(`the values lack ${name}`);
  for (const name of SKELETON_VARIABLES) if (names.includes(name)) fail(`${name} is the skeleton's own variable`);
  if (new Set(names).size !== names.length) fail("a value is assigned twice");
  if (!Number.isSafeInteger(p.stopTimeoutSeconds) || p.stopTimeoutSeconds < 1) fail("the stop timeout must be a whole number of seconds, 1 or more");
  if (!NAME.test(p.download)) fail(`${JSON.stringify(p.download)} is not a function name`);
  for (const [name, word] of p.exports) {
    if (!NAME.test(name)) fail(`${JSON.stringify(name)} is not an environment variable name`);
    if (!WORD.test(word)) fail(`${JSON.stringify(word)} is not a bare word or a quoted expansion`);
  }
  for (const name of p.passThrough) if (!NAME.test(name)) fail(`${JSON.stringify(name)} is not an environment variable name`);
  if (!WORD.test(p.storeUrl)) fail(`${JSON.stringify(p.storeUrl)} is not a bare word or a quoted expansion`);
}

export function scriptHeader(bootSource: string): string[] {
  return ["#!/bin/bash", `# spotjob: starts the job's runtime on this instance (${bootSource}, run as root at boot).`, "set -euo pipefail", "umask 077", ""];
}

/** The value block: the cloud's values, then the skeleton's (stop timeout, the pinned Node.js). */
export function valueBlock(values: [string, string][], stopTimeoutSeconds: number): string[] {
  return [
    "# The only place values appear; below, they are read as \"$VAR\" and never become code.",
    ...shellAssignments([
      ...values,
      ["STOP_TIMEOUT_SECONDS", String(stopTimeoutSeconds)],
      ["NODE_VERSION", NODE_PIN.version],
      ["NODE_SHA256_X64", NODE_PIN.sha256.x64],
      ["NODE_SHA256_ARM64", NODE_PIN.sha256.arm64],
    ]),
    "",
  ];
}

/** ROOT (SPOTJOB_ROOT in tests), log(), and whether the runtime runs under systemd or in the foreground (SPOTJOB_FOREGROUND). */
export function rootAndSystemd(): string[] {
  return [
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
  ];
}

/** $NODE: the image's Node.js if recent enough, else the pinned build, its download checked before it is extracted. */
export function nodeInstall(): string[] {
  return [
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
  ];
}

export interface RetryingDownload {
  /** The function's name. */
  name: string;
  /** Why a first try may fail: "the instance role or the network may not be ready this early in boot". */
  why: string;
  /** One try, as a command reading the key as "$1" and writing "$2.part"; it must not exit the script. */
  attempt: string;
  /** Where downloads come from, for the final message, as shell text: "s3://$BUCKET". */
  source: string;
}

/** `NAME KEY DEST`: five tries of `attempt` with growing pauses (2, 8, 18, 32 s); DEST appears whole or not at all. */
export function retryingDownload(d: RetryingDownload): string[] {
  return [
    `# ${d.name} KEY DEST: ${d.why}, so try a few times.`,
    `${d.name}() {`,
    "  local try",
    "  for try in 1 2 3 4 5; do",
    `    if ${d.attempt}; then`,
    '      mv "$2.part" "$2"',
    "      return 0",
    "    fi",
    '    if [ "$try" -lt 5 ]; then',
    '      log "download failed (try $try of 5); trying again"',
    '      sleep "$((try * try * 2))"',
    "    fi",
    "  done",
    `  log "cannot download from ${d.source} after 5 tries"`,
    "  return 1",
    "}",
  ];
}

/** The runtime, the spec and a fresh workdir ($ROOT/work, swapped in whole), fetched with `download KEY DEST`. */
export function fetchInputs(download: string): string[] {
  return [
    'log "fetching runtime"',
    `${download} "$RUNTIME_KEY" "$ROOT/runtime.cjs"`,
    'log "fetching spec"',
    `${download} "$SPEC_KEY" "$ROOT/spec.json"`,
    "# The workdir is fresh at every boot; progress lives in the store and in $ROOT/state.",
    'rm -rf "$ROOT/work.new"',
    'mkdir -p "$ROOT/work.new"',
    'if [ -n "$WORKDIR_KEY" ]; then',
    '  log "fetching workdir"',
    `  ${download} "$WORKDIR_KEY" "$ROOT/work.tar.gz"`,
    '  tar -xzf "$ROOT/work.tar.gz" -C "$ROOT/work.new" --no-same-owner',
    '  rm -f "$ROOT/work.tar.gz"',
    "fi",
    'rm -rf "$ROOT/work"',
    'mv "$ROOT/work.new" "$ROOT/work"',
    "",
  ];
}

/** $ROOT/bin/start: exports the instance environment and execs the runtime on the spec, the store and the state. */
export function launcher(exports: [string, string][], passThrough: string[], storeUrl: string): string[] {
  return [
    "# The launcher: values written with %q, so the file is code only where we wrote code.",
    'log "writing $ROOT/bin/start"',
    "{",
    "  printf '%s\\n' '#!/bin/bash' 'set -euo pipefail'",
    `  printf 'export %s=%q\\n' ${exports.map(([name, word]) => `${name} ${word}`).join(" ")}`,
    "  # A custom endpoint (an emulator in tests) reaches the runtime under systemd too; unset on a real instance.",
    ...passThrough.map((name) => `  if [ -n "\${${name}:-}" ]; then printf 'export %s=%q\\n' ${name} "$${name}"; fi`),
    `  printf 'exec %q %q run --spec %q --store %q --state %q\\n' "$NODE" "$ROOT/runtime.cjs" "$ROOT/spec.json" ${storeUrl} "$ROOT/state"`,
    '} >"$ROOT/bin/start.new"',
    'chmod 0700 "$ROOT/bin/start.new"',
    'mv "$ROOT/bin/start.new" "$ROOT/bin/start"',
    "",
  ];
}

/** Runs the launcher: in the foreground (SPOTJOB_FOREGROUND, or no systemd), else as spotjob.service. */
export function startRuntime(): string[] {
  return [
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
  ];
}

/** The whole script: header, values, ROOT, Node.js, the cloud's download function, the fetch, the launcher, the start. */
export function renderStartupSkeleton(p: StartupScriptParts): string {
  checkParts(p);
  return [
    ...scriptHeader(p.bootSource),
    ...valueBlock(p.values, p.stopTimeoutSeconds),
    ...rootAndSystemd(),
    ...nodeInstall(),
    ...p.downloadFunction,
    ...fetchInputs(p.download),
    ...launcher(p.exports, p.passThrough, p.storeUrl),
    ...startRuntime(),
  ].join("\n");
}
