// The agents' log: one line per event on stderr, "<time> <event> key=value ...",
// so that a node's journal reads as the story of what the agent did and why.
// Both modes name events alike: a kebab-case name (lease-added,
// route-conflict), then what and why as fields, never in the name.
// Values with spaces are quoted; the same message repeated (a reconcile that
// keeps failing the same way every second) is written once until it changes.

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  event(event: string, fields?: LogFields): void;
  /** like event(), but a repeat of the same key with the same text is skipped */
  once(key: string, event: string, fields?: LogFields): void;
  /** forgets what once() wrote for `key`, so the next occurrence is logged again */
  clear(key: string): void;
}

const value = (v: string | number | boolean): string => {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
};

export function formatLine(event: string, fields: LogFields = {}, now = new Date()): string {
  const parts = [now.toISOString(), event];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${value(v)}`);
  return parts.join(' ');
}

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const last = new Map<string, string>();
  const event = (e: string, fields?: LogFields) => write(formatLine(e, fields));
  return {
    event,
    once(key, e, fields) {
      const text = formatLine(e, fields, new Date(0));
      if (last.get(key) === text) return;
      last.set(key, text);
      event(e, fields);
    },
    clear(key) {
      last.delete(key);
    },
  };
}
