/**
 * The end of a program run under Pulumi's mocks: every resource it registers,
 * however late (inside an apply, after file I/O), has reached the mock monitor.
 */
import { expect } from "vitest";

/** Pulumi's queue of outstanding monitor calls drained, as `pulumi up` waits for before it ends (the product's own wait). */
export { registrationsDone } from "../../infra/preview/registrations";

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
