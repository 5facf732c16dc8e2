/**
 * A parsed YAML file that remembers where every node came from, so that an
 * error about `cost.max_cost_per_hour` can name its line and column.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { PathPart } from "./diagnostics";

export interface Position {
  line: number;
  column: number;
}

export class YamlSource {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      merge: true,
      uniqueKeys: true,
      version: "1.2",
    });
    return new YamlSource(file, text, doc, lines);
  }

  position(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * Where the field at `path` is written. `at: "key"` points at the key itself
   * (for unknown keys); otherwise at the value, or at the nearest ancestor that
   * exists when the field is missing.
   */
  locate(path: readonly PathPart[], at: "key" | "value" = "value"): Position {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    let found: unknown = node;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(part));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
        // `cost:` with nothing after it has no value node: point at the key.
        found = node ?? pair.key;
      } else if (isSeq(node) && typeof part === "number" && node.items[part] !== undefined) {
        keyNode = undefined;
        node = node.items[part];
        found = node;
      } else {
        break;
      }
      if (isAlias(node)) break;
    }
    const target = at === "key" && keyNode ? keyNode : found;
    const range = (target as Node | undefined)?.range;
    return range ? this.position(range[0]) : { line: 1, column: 1 };
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
