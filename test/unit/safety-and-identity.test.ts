import { describe, expect, it } from 'vitest';
import { currentUser } from '../../src/cli/context.js';
import { checkRowChange } from '../../src/pipeline/safety-gate.js';

describe('currentUser: the real person, with FERRY_USER beside', () => {
  it('names the OS user, or the sudo user with the account sudo ran as', () => {
    expect(currentUser({}, 'ferry')).toBe('ferry');
    expect(currentUser({ SUDO_USER: 'alice' }, 'ferry')).toBe('alice (via sudo as ferry)');
    expect(currentUser({ SUDO_USER: 'ferry' }, 'ferry')).toBe('ferry');
    expect(currentUser({ SUDO_USER: '' }, 'ferry')).toBe('ferry');
  });

  it('records FERRY_USER beside the person only when it says something', () => {
    expect(currentUser({ FERRY_USER: '' }, 'alice')).toBe('alice');
    expect(currentUser({ FERRY_USER: ' \t' }, 'alice')).toBe('alice');
    expect(currentUser({ FERRY_USER: 'alice' }, 'alice')).toBe('alice');
    expect(currentUser({ FERRY_USER: 'ops-desk' }, 'alice')).toBe('alice (as FERRY_USER=ops-desk)');
    expect(currentUser({ FERRY_USER: 'ops-desk', SUDO_USER: 'alice' }, 'ferry')).toBe('alice (as FERRY_USER=ops-desk; via sudo as ferry)');
  });

  it('keeps control characters out and fits the store', () => {
    expect(currentUser({ FERRY_USER: 'ops\n-desk\u001b[31m' }, 'alice')).toBe('alice (as FERRY_USER=ops-desk[31m)');
    const long = currentUser({ FERRY_USER: 'x'.repeat(500), SUDO_USER: 'y'.repeat(200) }, 'ferry');
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long.startsWith('y')).toBe(true);
  });
});

describe('the safety gate holds a fall and a rise', () => {
  const gate = (maxRowDrop: number | null, maxRowGrowth: number | null) => ({ safety: { maxRowDrop, maxRowGrowth, heldDays: 14 } });
  const previous = { runId: 7, rows: 200 };

  it('holds a rise past maxRowGrowth and lets one within it go', () => {
    expect(checkRowChange(gate(0.1, 0.5), 9, 300, previous)).toBeNull();
    const held = checkRowChange(gate(0.1, 0.5), 9, 301, previous);
    expect(held).toMatchObject({ direction: 'growth', rows: 301, previousRows: 200, previousRunId: 7, limit: 0.5 });
    expect(held!.reason).toBe('held: 301 rows against 200 in run 7 (a 51% rise, over the 50% limit of safety.maxRowGrowth); release with ferry release 9');
    expect(checkRowChange(gate(0.1, null), 9, 5000, previous)).toBeNull();
  });

  it('holds a fall as before, and never compares with an empty delivery', () => {
    expect(checkRowChange(gate(0.1, 0.5), 9, 100, previous)).toMatchObject({ direction: 'drop', change: 0.5, limit: 0.1 });
    expect(checkRowChange(gate(null, 0.5), 9, 0, previous)).toBeNull();
    expect(checkRowChange(gate(0.1, 0.5), 9, 1000, { runId: 7, rows: 0 })).toBeNull();
  });
});
