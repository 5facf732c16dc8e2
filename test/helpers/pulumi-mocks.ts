/**
 * The end of a program run under Pulumi's mocks: every resource it registers,
 * however late (inside an apply, after file I/O), has reached the mock monitor.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Waits for Pulumi's queue of outstanding monitor calls to drain, as `pulumi up` does before it ends
 * (`runtime.waitForRPCs`: internal to @pulumi/pulumi, hence the check). A fixed pause instead lost the last
 * registrations on a loaded machine.
 */
export async function registrationsDone(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== "function") throw new Error("@pulumi/pulumi no longer has runtime.waitForRPCs: test/helpers/pulumi-mocks.ts needs another way to wait for registrations");
  await runtime.waitForRPCs();
}
