// Waiting for the kernel, an agent or etcd to get somewhere, for the demo,
// the bench and the tests: `probe` is asked until it gives a value.
export interface PollOptions {
  /** what it saw last, for the timeout's message */
  seen?: () => string;
  /** how often to ask; the bench asks often, as its figures are how long it took */
  everyMs?: number;
}

/** Asks `probe` until it gives a value (not undefined or false); throws after `timeoutMs`. */
export async function poll<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, o: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${o.seen ? `\n${o.seen()}` : ''}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 50));
  }
}
