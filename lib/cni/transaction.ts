// The two shapes of a CNI command that changes the kernel.
//
// ADD is a transaction: every step that creates something registers how to
// undo it; on failure the undos run newest first and the original error is
// what the runtime sees. One explicit stack instead of per-step cleanup code
// means a forgotten branch cannot leak a veth or a reservation.
//
// DEL never stops early: every removal is tried, "already gone" counts as
// done, and the failures are reported together, so a runtime retrying DEL
// converges instead of stalling on the first missing object.
import { asCniError, CniError } from './errors';
import type { Logger } from './log';

export type Undo = () => Promise<unknown> | unknown;

export class Rollback {
  private readonly undos: { what: string; undo: Undo }[] = [];

  /** Registers the undo of a step that just succeeded. */
  push(what: string, undo: Undo): void {
    this.undos.push({ what, undo });
  }

  /**
   * Undoes everything, newest first. Returns what was undone and what could
   * not be (the latter for the log: the caller still throws the original error).
   */
  async unwind(): Promise<{ undone: string[]; failed: string[] }> {
    const undone: string[] = [];
    const failed: string[] = [];
    for (const { what, undo } of this.undos.splice(0).reverse()) {
      try {
        await undo();
        undone.push(what);
      } catch (e) {
        failed.push(`${what}: ${asCniError(e).msg}`);
      }
    }
    return { undone, failed };
  }
}

/**
 * Runs `body`; on failure unwinds `rb` and rethrows the original error, with
 * any undo that failed appended to its details. With `log`, the failure is
 * logged with the step it happened in, what the rollback removed and what it
 * could not.
 */
export async function withRollback<T>(body: (rb: Rollback) => Promise<T>, log?: Logger): Promise<T> {
  const rb = new Rollback();
  try {
    return await body(rb);
  } catch (e) {
    const failedStep = log?.currentStep;
    const { undone, failed } = await rb.unwind();
    const err = asCniError(e);
    log?.error('rolled back', { failedStep, error: err.msg, undone: undone.length ? undone : 'nothing', leftBehind: failed.length ? failed : undefined });
    if (failed.length > 0) {
      const extra = `rollback left behind: ${failed.join('; ')}`;
      throw new CniError(err.code, err.msg, err.details ? `${err.details}; ${extra}` : extra);
    }
    throw err;
  }
}

/** Collects failures of independent removals; `throwIfAny` reports them all at once. */
export class ErrorCollector {
  private readonly errors: { what: string; error: CniError }[] = [];

  /** With `log`, each removal is a logged step and each failure a warning. */
  constructor(private readonly log?: Logger) {}

  /** Resolves true when the removal succeeded, for a later removal that must wait for it. */
  async attempt(what: string, removal: () => Promise<unknown> | unknown): Promise<boolean> {
    this.log?.step(what);
    try {
      await removal();
      return true;
    } catch (e) {
      const error = asCniError(e);
      this.log?.warn('removal failed', { step: what, error: error.msg });
      this.errors.push({ what, error });
      return false;
    }
  }

  throwIfAny(): void {
    this.log?.endStep();
    if (this.errors.length === 0) return;
    const first = this.errors[0]!.error;
    if (this.errors.length === 1) throw new CniError(first.code, `${this.errors[0]!.what}: ${first.msg}`, first.details);
    const msg = this.errors.map((e) => `${e.what}: ${e.error.msg}`).join('; ');
    throw new CniError(first.code, msg);
  }
}
