/** An in-memory Store that counts what is written to it: for benchmarks and unit tests. */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { PreconditionFailed, type PutCondition, type Store, type StoredObject } from "../../runtime/store/store";
import type { FileDigest } from "../../runtime/store/transfer";

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

  /** Test-only: reads the whole file (this store is in memory anyway). */
  async putFile(key: string, file: string, digest: FileDigest, condition: { ifAbsent?: boolean } = {}): Promise<{ version: string }> {
    return this.put(key, await fs.readFile(file), { ifAbsent: condition.ifAbsent, sha256: digest.sha256 });
  }

  async getToFile(key: string, file: string): Promise<boolean> {
    const body = this.objects.get(key);
    if (!body) return false;
    await fs.writeFile(file, body);
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async listFolders(prefix: string): Promise<string[]> {
    const below = (await this.list(prefix)).map((k) => k.slice(prefix.length)).filter((rest) => rest.includes("/"));
    return [...new Set(below.map((rest) => rest.slice(0, rest.indexOf("/"))))].sort();
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
