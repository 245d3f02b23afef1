import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { localDestinationSchema } from '../../src/config/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { createLocalDestination } from '../../src/delivery/local-destination.js';

// Delivery to a folder on this machine: stopped mid-copy, and tidying temporary files left by earlier runs.

const execFileAsync = promisify(execFile);
const names = async (dir: string) => (await readdir(dir)).sort();

describe('local folder delivery', () => {
  let root: string;
  let out: string;
  let runId = 0;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-local-delivery-'));
    out = join(root, 'out');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const destination = () => createLocalDestination({ ...localDestinationSchema.parse({ kind: 'local', basePath: out }), id: 'out' }, 'hilltop-clever');

  it('an abort mid-copy stops it with kind aborted and leaves neither the file nor its temporary file', async () => {
    // A FIFO as the spool file holds the copy in flight for as long as the test needs.
    const fifo = join(root, 'spool.fifo');
    await execFileAsync('mkfifo', [fifo]);
    const folder = join(out, 'abort');
    const id = ++runId;
    const controller = new AbortController();
    const outcome = destination()
      .deliver({ localPath: fifo, remotePath: join(folder, 'students.csv'), bytes: 3 << 20, runId: id, signal: controller.signal })
      .then(() => undefined, (err: unknown) => err);
    const writer = await open(fifo, 'w');
    try {
      await writer.write(randomBytes(1 << 20));
      await vi.waitFor(async () => expect((await stat(join(folder, `.students.csv.ferry-${id}.part`))).size).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
      controller.abort(new Error('ferry is shutting down'));
    } finally {
      await writer.close(); // lets the reader's pending read return, so the stream can close
    }
    const err = await outcome;
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('aborted');
    expect(await names(folder)).toEqual([]);
  }, 60_000);

  it("a successful delivery removes the same file's temporary files left by earlier runs, and nothing else", async () => {
    const folder = join(out, 'leftovers');
    await mkdir(folder, { recursive: true });
    const kept = ['.schools.csv.ferry-1.part', '.students.csv.ferry-1.2.part', 'notes.txt'];
    for (const n of ['.students.csv.ferry-1.part', ...kept]) await writeFile(join(folder, n), 'x');
    const local = join(root, 'small.csv');
    await writeFile(local, 'id\r\n1\r\n');
    await destination().deliver({ localPath: local, remotePath: join(folder, 'students.csv'), bytes: 7, runId: ++runId });
    expect(await names(folder)).toEqual([...kept, 'students.csv'].sort());
    expect(await readFile(join(folder, 'students.csv'), 'utf8')).toBe('id\r\n1\r\n');
  });
});
