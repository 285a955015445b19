// Command-line flags as flanneld and calicoctl spell them: --name value or
// --name=value; a boolean flag stands alone (--direct-routing). Anything not
// declared is an error, so a typo never passes silently.

export type FlagKind = 'string' | 'boolean';

/**
 * A command line that cannot run, in either agent or the CLI: the message
 * names the flag or argument, and the program prints its usage and exits 2.
 */
export class OptionsError extends Error {}

/** The parser's OptionsError: a flag that is unknown, given twice or malformed. */
export class FlagError extends OptionsError {}

export interface ParsedFlags {
  values: Record<string, string | boolean>;
  positional: string[];
}

export function parseFlags(args: string[], spec: Record<string, FlagKind>): ParsedFlags {
  const values: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) throw new FlagError(`unknown flag --${name}`);
    if (name in values) throw new FlagError(`--${name} is given twice`);
    if (kind === 'boolean') {
      const text = eq < 0 ? 'true' : arg.slice(eq + 1);
      if (text !== 'true' && text !== 'false') throw new FlagError(`--${name}: "${text}" is not true or false`);
      values[name] = text === 'true';
    } else if (eq >= 0) {
      values[name] = arg.slice(eq + 1);
    } else {
      const next = args[++i];
      if (next === undefined || next.startsWith('--')) throw new FlagError(`--${name} needs a value`);
      values[name] = next;
    }
  }
  return { values, positional };
}

/** A flag's value as a whole number, or undefined when the flag is absent. */
export function integerFlag(values: ParsedFlags['values'], name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v)) throw new FlagError(`--${name}: "${String(v)}" is not a whole number`);
  return Number(v);
}
