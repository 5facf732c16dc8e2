/**
 * A store whose implementation, and the cloud SDK under it, is loaded on
 * first use: opening one costs nothing, so a process that opens an s3:// or
 * gs:// store is ready (for signals too) before that SDK loads, and one that
 * opens a directory never loads it.
 */
import type { FileDigest } from "./transfer";
import type { PutCondition, Store, StoredObject } from "./store";

export class OnDemandStore implements Store {
  private loaded: Promise<Store> | undefined;

  /** `url`: the URL the store will say it was opened from (the same as the implementation's). */
  constructor(
    readonly url: string,
    private readonly load: () => Promise<Store>,
  ) {}

  /** The implementation, loaded now if it was not yet. */
  store(): Promise<Store> {
    return (this.loaded ??= this.load());
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return (await this.store()).get(key);
  }

  async putFile(key: string, file: string, digest: FileDigest, condition?: { ifAbsent?: boolean }): Promise<{ version: string }> {
    return (await this.store()).putFile(key, file, digest, condition);
  }

  async getToFile(key: string, file: string): Promise<boolean> {
    return (await this.store()).getToFile(key, file);
  }

  async put(key: string, body: Buffer | string, condition?: PutCondition): Promise<{ version: string }> {
    return (await this.store()).put(key, body, condition);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.store()).list(prefix);
  }

  async listFolders(prefix: string): Promise<string[]> {
    return (await this.store()).listFolders(prefix);
  }

  async delete(key: string): Promise<void> {
    return (await this.store()).delete(key);
  }
}
