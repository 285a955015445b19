// How both agents run their reconcile (overlay) or sync (routed): one run
// at a time; a request while one runs makes exactly one more run after it,
// however many requests came, so a burst of watch events costs two runs,
// not one per event.
export class SerialRunner {
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly run: () => Promise<void>) {}

  /** Whether a run is under way. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.run();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** No run starts after this; resolves once the one under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}
