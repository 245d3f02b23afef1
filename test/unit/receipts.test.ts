import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReceiptJournal, type Receipt } from '../../src/runs/receipts.js';

const receipt = (runId: number): Receipt => ({
  runId,
  integrationId: 'hilltop-clever-students',
  deliveredAt: '2026-12-07T07:00:00.000Z',
  outcome: { status: 'succeeded', rows: 10, bytes: 100, sha256: 'ab'.repeat(32), remotePath: `/hilltop-csd/${runId}.csv`, target: 'sftp://x' },
});

describe('the receipt journal', () => {
  it('keeps receipts on disk (0600) until this process has recorded them all, and reads every process’s file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-receipts-'));
    const a = createReceiptJournal(dir, 'host:1:aaa');
    const b = createReceiptJournal(dir, 'host:2:bbb');
    // A burst: the writes share syncs, and every one is on disk when its promise resolves.
    await Promise.all([1, 2, 3].map((id) => a.write(receipt(id))));
    await b.write(receipt(9));
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['host_1_aaa.jsonl', 'host_2_bbb.jsonl']);
    for (const f of files) expect((fs.statSync(path.join(dir, f)).mode & 0o777).toString(8)).toBe('600');
    expect((await a.pending()).map((r) => r.runId)).toEqual([1, 2, 3, 9]);
    // Recorded one by one: the file empties only once nothing of a's is outstanding.
    await a.recorded(1);
    await a.recorded(2);
    expect(fs.statSync(path.join(dir, 'host_1_aaa.jsonl')).size).toBeGreaterThan(0);
    await a.recorded(3);
    expect(fs.statSync(path.join(dir, 'host_1_aaa.jsonl')).size).toBe(0);
    expect((await a.pending()).map((r) => r.runId)).toEqual([9]);
    await a.close();
    await b.close();
  });

  it('ignores a line cut short by a crash, and prunes a stale file of another process once the store has its receipts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-receipts-'));
    fs.writeFileSync(path.join(dir, 'dead_7_ccc.jsonl'), `${JSON.stringify({ receipt: receipt(4) })}\n{"receipt":{"runId":5,"integ`, { mode: 0o600 });
    const j = createReceiptJournal(dir, 'host:3:ddd');
    expect((await j.pending()).map((r) => r.runId)).toEqual([4]);
    const day = 86_400_000;
    const stale = new Date(fs.statSync(path.join(dir, 'dead_7_ccc.jsonl')).mtimeMs + day + 1000);
    await j.prune(new Date(stale.getTime() - 2 * day), async () => true);
    expect(fs.existsSync(path.join(dir, 'dead_7_ccc.jsonl'))).toBe(true); // written recently
    await j.prune(stale, async () => false);
    expect(fs.existsSync(path.join(dir, 'dead_7_ccc.jsonl'))).toBe(true); // the store lacks one
    await j.prune(stale, async (ids) => ids.length === 1 && ids[0] === 4);
    expect(fs.existsSync(path.join(dir, 'dead_7_ccc.jsonl'))).toBe(false);
    await j.close();
  });
});
