/** An in-memory Store that counts what is written to it: for benchmarks and unit tests. */
import { createHash } from "node:crypto";
import { PreconditionFailed, type PutCondition, type Store, type StoredObject } from "../../runtime/store/store";

export class MemoryStore implements Store {
  readonly url = "memory://";
  readonly objects = new Map<string, Buffer>();
  bytesWritten = 0;
  puts = 0;

  async get(key: string): Promise<StoredObject | undefined> {
    const body = this.objects.get(key);
    return body ? { body, version: createHash("md5").update(body).digest("hex") } : undefined;
  }

  async put(key: string, body: Buffer | string, condition: PutCondition = {}): Promise<{ version: string }> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const current = await this.get(key);
    if (condition.ifAbsent && current) throw new PreconditionFailed(this.url, key);
    if (condition.ifVersion !== undefined && current?.version !== condition.ifVersion) throw new PreconditionFailed(this.url, key);
    this.objects.set(key, data);
    this.bytesWritten += data.length;
    this.puts++;
    return { version: createHash("md5").update(data).digest("hex") };
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
