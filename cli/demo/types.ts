// The seams between the demo driver (index.ts) and one dataplane mode. A mode
// builds its virtual cluster, says what it built, and lists the traffic paths
// it promises; the driver prints, runs the paths with a time bound each, and
// tears everything down. routed and overlay plug in as further DemoModes.
import type { Harness } from '../../lib/lab/index';

/** Where the demo finds what `make build` produced. */
export interface DemoEnv {
  harness: Harness;
  /** the built plugin executables (dist/bin): the only CNI_PATH entry */
  binDir: string;
  /** the repository's conf-examples/ */
  confDir: string;
  /** one line of progress, printed as it happens */
  log(line: string): void;
}

/** What one expected traffic path produced. */
export interface PathOutcome {
  ok: boolean;
  /** what was observed, e.g. "seen as 198.51.100.2 (masqueraded)" */
  detail: string;
}

/** One row of the connectivity matrix. */
export interface PathCheck {
  /** the group the row belongs to, e.g. "pod ↔ pod" */
  kind: string;
  from: string;
  to: string;
  run(): Promise<PathOutcome>;
}

export interface Teardown {
  /** false when a DEL failed or something was left behind */
  ok: boolean;
  lines: string[];
}

/** A cluster that a mode has built and that must be torn down again. */
export interface Scenario {
  /** "what was built": printed before the matrix */
  describe(): Promise<string[]>;
  checks: PathCheck[];
  /** stops the demo's own processes (TCP servers); the namespaces stay */
  stopProcesses(): void;
  /** CNI DEL for every attachment, as a runtime does when pods go away, then proof that nothing is left */
  teardown(): Promise<Teardown>;
  /** shown with --keep: how to look around, and how to remove what stays */
  keepHints(): string[];
}

export interface DemoMode {
  name: string;
  /** one line for the header and for the list of modes */
  summary: string;
  setUp(env: DemoEnv): Promise<Scenario>;
}
