#!/usr/bin/env node
// Runs the bundled CLI; builds it first when the package was installed
// without lifecycle scripts (npm ci --ignore-scripts).
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const bundle = join(__dirname, "..", "dist", "spotjob.cjs");
if (!existsSync(bundle)) {
  require("node:child_process").execFileSync(process.execPath, [join(__dirname, "..", "scripts", "build.mjs")], { stdio: "inherit" });
}
require(bundle);
