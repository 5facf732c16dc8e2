// An esbuild plugin for a large bundle that must stop cleanly on a signal from its first instant (the on-instance
// runtime: one file, uploaded as is). V8 reads and compiles the whole file, 2.4 MB, before its first statement runs
// (100-200 ms, more on a busy machine), and until a handler exists a SIGINT or SIGTERM ends the process with 130/143.
// So the file becomes a small prelude, which holds the signals (`prelude`, bundled on its own), and then the bundle
// proper, kept as a string (which V8 scans, not parses) and compiled only now, as the same CommonJS module.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";

/** `prelude`: the entry point run first (runtime/hold-signals.ts). */
export function holdThenCompile(prelude) {
  return {
    name: "hold-then-compile",
    setup(bundle) {
      bundle.onEnd(async (result) => {
        // Nothing written (a build for its metafile): nothing to rewrite.
        if (result.errors.length > 0 || bundle.initialOptions.write === false) return;
        const outfile = bundle.initialOptions.outfile;
        const first = await build({ entryPoints: [prelude], bundle: true, platform: "node", target: bundle.initialOptions.target, format: "cjs", minify: true, write: false, logLevel: "warning" });
        const text = readFileSync(outfile, "utf8");
        const shebang = text.startsWith("#!") ? text.slice(0, text.indexOf("\n") + 1) : "";
        // The bundle's own code, compiled as the module this file is (Node's CommonJS loader: require, import() and
        // the exports, the Lambda handler among them, are this file's).
        const rest = `module._compile(${JSON.stringify(text.slice(shebang.length))}, __filename);`;
        writeFileSync(outfile, `${shebang}${first.outputFiles[0].text}${rest}\n`);
      });
    },
  };
}
