import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ferry, tempDir } from '../helpers/cli.js';

const USERS_HEADER = 'sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password';

describe('ferry check-file (spawned)', () => {
  it('passes a valid OneRoster users.csv and fails a broken one with file, row and column but no student data', async () => {
    const dir = tempDir();
    const good = path.join(dir, 'users.csv');
    fs.writeFileSync(good, `${USERS_HEADER}\r\nu1,,,true,o1,student,jd,,Jane,Doe,,,,,,,,\r\n`);
    const ok = await ferry(['check-file', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('no problems');

    const badDir = tempDir();
    const bad = path.join(badDir, 'users.csv');
    fs.writeFileSync(bad, `${USERS_HEADER}\r\nu1,,,true,o1,wizard,jd,,Zebulon-Secret,Doe,,,,,,,,\r\nu1,,,true,o1,student,jd2,,,Doe,,,,,,,,\r\n`);
    const r = await ferry(['check-file', bad, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: { file: string; row?: number; column?: string; kind: string }[] };
    expect(report.ok).toBe(false);
    const kinds = report.problems.map((p) => `${p.kind}:${p.column ?? ''}`);
    expect(kinds).toEqual(expect.arrayContaining(['enum:role', 'duplicate:sourcedId', 'required:givenName']));
    expect(r.stdout).not.toContain('Zebulon-Secret');
    expect(r.stdout).not.toContain('wizard');
  });
});
