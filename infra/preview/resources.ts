/**
 * The resources `pulumi up` would create for a spec, without an engine or
 * credentials: the real program evaluated under the recording mocks.
 */
import { resolve } from "node:path";
import type { RecordedResource } from "./recording-mocks";

export async function previewResources(specFile: string, config: Record<string, string> = {}): Promise<RecordedResource[]> {
  // Loaded here, not at the top: the mocks must be in place before the program's first line runs.
  const pulumi = await import("@pulumi/pulumi");
  const { recordingMocks, settled, setSpotjobConfig } = await import("./recording-mocks.js");
  const recorded: RecordedResource[] = [];
  await pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "preview", true);
  setSpotjobConfig({ ...config, job: resolve(specFile) });
  // With no engine, Pulumi's log prints to stdout; the program's messages belong with other diagnostics.
  const { log } = console;
  console.log = (...args: unknown[]) => console.error(...args);
  // A failure inside an output (an over-size workdir) surfaces as a rejection nobody awaits: collect it.
  const failures: unknown[] = [];
  let failed!: (e: unknown) => void;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  failure.catch(() => undefined);
  const onRejection = (e: unknown) => {
    failures.push(e);
    failed(e);
  };
  process.on("unhandledRejection", onRejection);
  try {
    let stack: Record<string, unknown>;
    try {
      stack = (await import("../index.js")) as Record<string, unknown>;
    } catch (e) {
      // The program refused the spec as it loaded (a provider it cannot launch yet): its message, as preview shows it.
      if (pulumi.RunError.isInstance(e)) throw new ProgramError([programMessage(e)]);
      throw e;
    }
    // A failed output never resolves: the failure ends the wait instead.
    await Promise.race([settled(pulumi.output(Object.values(stack).filter((v) => pulumi.Output.isInstance(v)))), failure]).catch(() => undefined);
    // The last registrations reach the mock monitor after the outputs resolve.
    await (await import("./registrations.js")).registrationsDone();
  } finally {
    console.log = log;
    process.off("unhandledRejection", onRejection);
  }
  if (failures.length) throw new ProgramError(failures.map(programMessage));
  return recorded;
}

/** The program failed while resolving its resources: what `pulumi preview` would fail with. */
export class ProgramError extends Error {
  constructor(readonly messages: string[]) {
    super([...new Set(messages)].join("\n"));
    this.name = "ProgramError";
  }
}

/** Pulumi wraps a failed input in "error serializing property …" once per level: the user's message is the innermost. */
function programMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/^(error serializing property "[^"]*": )+/, "");
}
