import { describe, expect, it } from "vitest";
import { formatDuration } from "../../cli/render/duration";

describe("durations for people", () => {
  it.each([
    [0, "0 s", "0s"],
    [119, "119 s", "119s"],
    [120, "2 min", "2m"],
    [7199, "120 min", "120m"],
    [7200, "2.0 h", "2.0h"],
    [172_799, "48.0 h", "48.0h"],
    [172_800, "2 d", "2d"],
  ])("%i s", (seconds, long, compact) => {
    expect(formatDuration(seconds)).toBe(long);
    expect(formatDuration(seconds, "compact")).toBe(compact);
  });
});
