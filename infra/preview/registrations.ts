/**
 * Waits until every resource registration the program started has reached
 * the (mock) monitor, as `pulumi up` does before it ends: outputs can resolve
 * before the last registrations do, and a fixed pause dropped them on a
 * loaded machine. `runtime.waitForRPCs` is internal to @pulumi/pulumi, hence
 * the check.
 */
import * as pulumi from "@pulumi/pulumi";

export async function registrationsDone(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== "function") throw new Error("@pulumi/pulumi no longer has runtime.waitForRPCs: infra/preview/registrations.ts needs another way to wait for registrations");
  await runtime.waitForRPCs();
}
