/**
 * The end of a program run under Pulumi's mocks: every resource it registers,
 * however late (inside an apply, after file I/O), has reached the mock monitor.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";

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

/**
 * The names of every resource under a component, walking its children: each
 * must be named after its parent (the component's children's names derive
 * from the component's), which is asserted on the way.
 */
export function componentTree(component: object, name: string): string[] {
  type Node = { __name: string; __childResources?: Set<Node> };
  const seen: string[] = [];
  const walk = (node: Node, parentName: string) => {
    for (const child of node.__childResources ?? []) {
      expect(child.__name.startsWith(parentName), `${child.__name} is named after its parent ${parentName}`).toBe(true);
      seen.push(child.__name);
      walk(child, child.__name);
    }
  };
  walk(component as Node, name);
  return seen;
}
