import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunOutcome } from '../store/run-store.js';

/**
 * The receipt journal: once a file is in the vendor's folder, its receipt is written here (fsynced, 0600) before the
 * store is told, and removed once the store has it. A store outage or a crash between the delivery and the record
 * therefore cannot turn a delivered file into "interrupted": the journal is replayed at start, when the store comes
 * back, and before a CLI run. A receipt holds ids, paths, sizes and hashes, never row data.
 */
export interface Receipt {
  runId: number;
  integrationId: string;
  deliveredAt: string;
  outcome: RunOutcome & { status: 'succeeded' };
}

export interface ReceiptJournal {
  write(receipt: Receipt): Promise<void>;
  remove(runId: number): Promise<void>;
  /** Every receipt not yet known to be in the store, oldest run first. */
  pending(): Promise<Receipt[]>;
}

export function createReceiptJournal(dir: string): ReceiptJournal {
  const file = (runId: number) => path.join(dir, `${runId}.json`);
  return {
    async write(receipt) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const tmp = `${file(receipt.runId)}.tmp`;
      const handle = await fs.open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(receipt));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, file(receipt.runId));
      // The rename itself must survive a power cut too.
      const d = await fs.open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    },
    async remove(runId) {
      await fs.rm(file(runId), { force: true });
    },
    async pending() {
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const out: Receipt[] = [];
      for (const name of names.filter((n) => /^\d+\.json$/.test(n))) {
        try {
          out.push(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as Receipt);
        } catch {
          // A receipt cut short by a crash mid-write was never renamed into place; anything else unreadable is left for a person.
        }
      }
      return out.sort((a, b) => a.runId - b.runId);
    },
  };
}
