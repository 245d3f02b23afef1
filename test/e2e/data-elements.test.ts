import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, REPO, startDaemonProcess, tempDir, type DaemonProcess } from '../helpers/cli.js';
import { makeDemoConfigDir, type DemoConfigDir } from '../helpers/demo-config.js';

/**
 * A copy of the shipped extracts in which clever-students has lost one column's tag, misspelt another and names a
 * person key it does not have: the spawned CLI and daemon both refuse the config, naming file and column.
 */
describe('an extract column without a known data element (spawned CLI and daemon)', () => {
  let cfg: DemoConfigDir;
  let file: string;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    const extracts = path.join(tempDir(), 'extracts');
    fs.cpSync(path.join(REPO, 'extracts'), extracts, { recursive: true });
    file = path.join(extracts, 'sqlite/clever-students/extract.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const broken = text
      .replace('{ name: Dob, type: date, element: "Demographics/date of birth",', '{ name: Dob, type: date,')
      .replace('{ name: Gender, type: string, element: "Demographics/gender",', '{ name: Gender, type: string, element: "Demographics/sex",')
      .replace('personKey: Student_id\n', 'personKey: student_id\n');
    expect(broken).not.toBe(text);
    fs.writeFileSync(file, broken);
    cfg = await makeDemoConfigDir({ extraFerry: { extractsDir: extracts } });
  });

  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  });

  it('ferry validate names each problem in one sentence and exits 2', async () => {
    const r = await ferry(['validate', '--config', cfg.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: columns[8].element: column Dob names no data element: add element: "<tag>" from the NDPA Schedule of Data`);
    expect(r.stderr).toMatch(/columns\[7\]\.element: column Gender names "Demographics\/sex", which is not a data element of the NDPA Schedule of Data: did you mean "Demographics\/[^"]+"/);
    expect(r.stderr).toContain(`${file}: personKey: names student_id, which is not one of the extract's columns (School_id, Student_id,`);
  });

  it('the daemon does not start on it', async () => {
    const d = startDaemonProcess(cfg.dir);
    daemons.push(d);
    expect(await d.exited).toBe(2);
    expect(d.stderr()).toContain('the daemon did not start');
    expect(d.stderr()).toContain('column Dob names no data element');
  });
});
