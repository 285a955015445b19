// The ADD transaction: undos run newest first, every one of them even when
// one fails, and the original error is what the caller sees.
import { describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { Rollback, withRollback } from '../../lib/cni/transaction';

describe('withRollback', () => {
  it('undoes newest first, runs every undo when one fails, and rethrows the original error', async () => {
    const undone: string[] = [];
    const err = await withRollback(async (rb) => {
      rb.push('bridge', () => void undone.push('bridge'));
      rb.push('veth', () => {
        throw new Error('busy');
      });
      rb.push('address', () => void undone.push('address'));
      throw new CniError(7, 'route failed');
    }).catch((e: CniError) => e);
    expect(undone).toEqual(['address', 'bridge']);
    expect(err).toMatchObject({ code: 7, msg: 'route failed', details: 'rollback left behind: veth: busy' });
  });

  it('undoes nothing after success', async () => {
    const undone: string[] = [];
    expect(await withRollback(async (rb) => (rb.push('x', () => void undone.push('x')), 42))).toBe(42);
    expect(undone).toEqual([]);
  });

  it('Rollback is push and unwind: a step registers its undo once it succeeded, no second way to do it', () => {
    expect(Object.getOwnPropertyNames(Rollback.prototype).sort()).toEqual(['constructor', 'push', 'unwind']);
  });
});
