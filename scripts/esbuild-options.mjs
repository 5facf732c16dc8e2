// The esbuild options every bundle shares, the product's and the tests' (kept apart from build.mjs, which builds
// on import: a bundled benchmark can import these).

// node-fetch 2 (under the GCS client) parses every request URL with url.parse(), which Node deprecates (DEP0169) with
// a warning for code outside node_modules, as bundled code is: node-fetch gets a `url` whose parse() is the same but
// quiet. Node warns once per process, so a later url.parse() elsewhere says nothing either (ours call none).
const quietUrlParseInNodeFetch = {
  name: "quiet-url-parse-in-node-fetch",
  setup(build) {
    build.onResolve({ filter: /^(node:)?url$/ }, (args) => (/[\\/]node_modules[\\/]node-fetch[\\/]/.test(args.importer) ? { path: "url", namespace: "quiet-url-parse" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "quiet-url-parse" }, () => ({
      loader: "js",
      contents: `const url = require("node:url");
module.exports = {
  ...url,
  parse(...args) {
    const quiet = process.noDeprecation;
    process.noDeprecation = true;
    try {
      return url.parse(...args);
    } finally {
      process.noDeprecation = quiet;
    }
  },
};`,
    }));
  },
};

export const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  logLevel: "warning",
  legalComments: "none",
  // whatwg-url (under the GCS client) requires Node's `punycode`, deprecated with a warning on every start since
  // Node 21: bundle the userland package it was extracted to.
  alias: { punycode: "punycode/" },
  plugins: [quietUrlParseInNodeFetch],
};
