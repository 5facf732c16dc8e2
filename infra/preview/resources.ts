/**
 * The resources `pulumi up` would create for a spec, without an engine or
 * credentials: the real program evaluated under the recording mocks.
 */
import { resolve } from "node:path";
import type { RecordedResource } from "./recording-mocks";

export async function previewResources(specFile: string, config: Record<string, string> = {}): Promise<RecordedResource[]> {
  // Loaded here, not at the top: the mocks must be in place before the program's first line runs.
  const pulumi = await import("@pulumi/pulumi");
  const { recordingMocks, settled } = await import("./recording-mocks.js");
  const recorded: RecordedResource[] = [];
  await pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "preview", true);
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries({ ...config, job: resolve(specFile) }).map(([k, v]) => [`spotjob:${k}`, v])));
  // With no engine, Pulumi's log prints to stdout; the program's messages belong with other diagnostics.
  const { log } = console;
  console.log = (...args: unknown[]) => console.error(...args);
  try {
    const stack = (await import("../index.js")) as Record<string, unknown>;
    await settled(pulumi.output(Object.values(stack).filter((v) => pulumi.Output.isInstance(v))));
    // The last registrations reach the mock monitor a turn after the outputs resolve.
    await new Promise((done) => setTimeout(done, 100));
  } finally {
    console.log = log;
  }
  return recorded;
}
