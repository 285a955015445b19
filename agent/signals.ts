// How the agent ends: SIGTERM (what systemd and the kubelet send) or SIGINT
// (a terminal) resolves the promise once; the caller then stops its loops and
// returns, leaving the kernel state it built in place for the next start.

export function untilTerminated(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
