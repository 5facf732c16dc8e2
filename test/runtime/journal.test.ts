import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal, type JournalWarning } from "../../runtime/journal/journal";
import { decodeRecord, encodeRecord, type JournalRecord } from "../../runtime/journal/record";
import { JournalCorruptError, scanJournal } from "../../runtime/journal/scan";
import { LocalDirStore } from "../../runtime/store/local-dir";

const rec = (key: string, status: "done" | "failed" = "done"): JournalRecord => ({ v: 1, key, status, attempt: 1, result: { key }, at: "2026-11-24T00:00:00Z" });
const temp = () => mkdtempSync(join(tmpdir(), "spotjob-journal-"));

describe("journal records", () => {
  it("round-trip and detect any changed byte", () => {
    const line = encodeRecord(rec("a"));
    expect(decodeRecord(line.slice(0, -1))).toEqual(rec("a"));
    for (let i = 0; i < line.length - 1; i++) {
      const damaged = line.slice(0, i) + (line[i] === "x" ? "y" : "x") + line.slice(i + 1, -1);
      expect(decodeRecord(damaged), `byte ${i}`).toBeUndefined();
    }
  });

  it("cuts a torn tail but reports corruption in the middle with its offset", () => {
    const a = encodeRecord(rec("a"));
    const b = encodeRecord(rec("b"));
    expect(scanJournal(Buffer.from(a + b.slice(0, 10)), "j")).toMatchObject({ intactBytes: a.length, tornBytes: 10 });
    expect(scanJournal(Buffer.from(a + "\u0000".repeat(4096)), "j")).toMatchObject({ intactBytes: a.length });
    const corrupt = Buffer.from(a + b.replace('"b"', '"c"') + a);
    expect(() => scanJournal(corrupt, "j.jsonl")).toThrow(JournalCorruptError);
    try {
      scanJournal(corrupt, "j.jsonl");
    } catch (e) {
      expect((e as JournalCorruptError).offset).toBe(a.length);
      expect((e as Error).message).toContain("j.jsonl");
    }
  });
});

describe("Journal", () => {
  it("appends, reopens, and cuts a torn tail before appending again", async () => {
    const dir = temp();
    const path = join(dir, "journal.jsonl");
    const j = await Journal.open({ path });
    await j.append(rec("a"));
    await j.append(rec("b"));
    await j.close();
    appendFileSync(path, encodeRecord(rec("c")).slice(0, 17));
    const warnings: JournalWarning[] = [];
    const j2 = await Journal.open({ path, onWarning: (w) => warnings.push(w) });
    expect(j2.records.map((r) => r.key)).toEqual(["a", "b"]);
    expect(warnings[0].message).toContain("torn");
    await j2.append(rec("d"));
    await j2.close();
    const j3 = await Journal.open({ path });
    expect(j3.records.map((r) => r.key)).toEqual(["a", "b", "d"]);
    await j3.close();
  });

  it("mirrors every record to the store and restores on a fresh machine", async () => {
    const store = new LocalDirStore(temp());
    const j = await Journal.open({ path: join(temp(), "j.jsonl"), store });
    for (const k of ["a", "b", "c"]) await j.append(rec(k));
    await j.close();
    expect((await store.list("journal/")).length).toBe(3);
    // A replacement instance: empty local disk, same store.
    const fresh = await Journal.open({ path: join(temp(), "j.jsonl"), store });
    expect(fresh.records.map((r) => r.key)).toEqual(["a", "b", "c"]);
    // Opening compacted the three segments into one base.
    expect(await store.list("journal/")).toEqual(["journal/base-0000000003.jsonl"]);
    await fresh.append(rec("d"));
    await fresh.close();
    const again = await Journal.open({ path: join(temp(), "j.jsonl"), store });
    expect(again.records.map((r) => r.key)).toEqual(["a", "b", "c", "d"]);
    await again.close();
  });

  it("sends records the store missed (crash between local fsync and upload)", async () => {
    const storeDir = temp();
    const store = new LocalDirStore(storeDir);
    const path = join(temp(), "j.jsonl");
    const j = await Journal.open({ path, store });
    await j.append(rec("a"));
    await j.close();
    appendFileSync(path, encodeRecord(rec("b"))); // fsynced locally, never uploaded
    const j2 = await Journal.open({ path, store });
    await j2.close();
    const fresh = await Journal.open({ path: join(temp(), "j.jsonl"), store });
    expect(fresh.records.map((r) => r.key)).toEqual(["a", "b"]);
    await fresh.close();
  });

  it("sets a corrupt local journal aside and rebuilds from the store, never clobbering it", async () => {
    const dir = temp();
    const store = new LocalDirStore(temp());
    const path = join(dir, "j.jsonl");
    const j = await Journal.open({ path, store });
    for (const k of ["a", "b", "c"]) await j.append(rec(k));
    await j.close();
    const text = readFileSync(path, "utf8");
    writeFileSync(path, text.replace('"key":"b"', '"key":"B"'));
    const warnings: JournalWarning[] = [];
    const j2 = await Journal.open({ path, store, onWarning: (w) => warnings.push(w) });
    expect(j2.records.map((r) => r.key)).toEqual(["a", "b", "c"]);
    expect(warnings.map((w) => w.message).join()).toMatch(/corrupt at byte \d+/);
    expect(readdirSync(dir).some((f) => f.includes(".corrupt-"))).toBe(true);
    await j2.close();
  });

  it("ignores a corrupt store object, keeps a copy, and uses what is intact", async () => {
    const storeDir = temp();
    const store = new LocalDirStore(storeDir);
    const j = await Journal.open({ path: join(temp(), "j.jsonl"), store });
    for (const k of ["a", "b", "c"]) await j.append(rec(k));
    await j.close();
    const seg = join(storeDir, "journal", "seg-0000000001.jsonl");
    writeFileSync(seg, readFileSync(seg, "utf8").replace('"b"', '"x"'));
    const warnings: JournalWarning[] = [];
    const fresh = await Journal.open({ path: join(temp(), "j.jsonl"), store, onWarning: (w) => warnings.push(w) });
    expect(fresh.records.map((r) => r.key)).toEqual(["a", "c"]);
    expect(warnings[0].message).toContain("seg-0000000001.jsonl");
    expect(await store.list("quarantine/")).toEqual(["quarantine/journal/seg-0000000001.jsonl"]);
    await fresh.close();
  });
});
