/** How the runtime names failed items in its final message. */
import { describe, expect, it } from "vitest";
import { listKeys } from "../../runtime/job";

describe("listKeys", () => {
  it.each([
    { keys: ["n2"], text: "n2" },
    { keys: ["a", "b", "c"], text: "a, b, c" },
    { keys: Array.from({ length: 10 }, (_, i) => `k${i}`), text: "k0, k1, k2, k3, k4, k5, k6, k7, k8, k9" },
    { keys: Array.from({ length: 13 }, (_, i) => `k${i}`), text: "k0, k1, k2, k3, k4, k5, k6, k7, k8, k9 and 3 more" },
  ])("$keys.length key(s)", ({ keys, text }) => {
    expect(listKeys(keys)).toBe(text);
  });
});
