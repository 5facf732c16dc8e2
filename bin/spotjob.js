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
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const bundle = join(__dirname, "..", "dist", "spotjob.cjs");
if (!existsSync(bundle)) {
  require("node:child_process").execFileSync(process.execPath, [join(__dirname, "..", "scripts", "build.mjs")], { stdio: "inherit" });
}
require(bundle);
