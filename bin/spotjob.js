#!/usr/bin/env node
// Runs the bundled CLI; builds it first when the package was installed
// without lifecycle scripts (npm ci --ignore-scripts).
"use strict";
// The bundle targets Node.js 22 (20 reached end of life on 2026-04-30): say so rather than fail obscurely.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`spotjob: needs Node.js 22 or newer; this is ${process.version} (${process.execPath}). Install a current LTS (22 or 24) and run it again.\n`);
  process.exit(2);
}
// `run` stops cleanly on a signal from the first instant, before the bundle is even read (see
// runtime/early-signals.ts, which takes this over: same key, same behaviour). Nothing has started yet, so a
// signal here exits 75 (interrupted; run again) rather than 130/143.
if (process.argv[2] === "run") {
  const HELD = Symbol.for("spotjob.held-signals");
  const say = (text) => {
    try {
      require("node:fs").writeSync(2, text);
    } catch {
      // a closed stderr: the status says it
    }
  };
  const held = (signal) => {
    say(`spotjob: ${signal} before the job started: nothing ran, nothing was written; run the same command again\n`);
    process.exit(75);
  };
  process[HELD] = held;
  process.on("SIGINT", held);
  process.on("SIGTERM", held);
  if (process.env.SPOTJOB_DEBUG_READY === "1") say(`spotjob: debug: signals held at ${Math.round(performance.now())} ms\n`);
}
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const bundle = join(__dirname, "..", "dist", "spotjob.cjs");
if (!existsSync(bundle)) {
  require("node:child_process").execFileSync(process.execPath, [join(__dirname, "..", "scripts", "build.mjs")], { stdio: "inherit" });
}
require(bundle);
