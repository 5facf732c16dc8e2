// The esbuild options every bundle shares, the product's and the tests' (kept apart from build.mjs, which builds
// on import: a bundled benchmark can import these).
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
};
