// The CLI's flag parser: both spellings, booleans alone, and every mistake an error.
import { describe, expect, it } from 'vitest';
import { FlagError, integerFlag, OptionsError, parseFlags } from '../../lib/flags';

const spec = { network: 'string', 'direct-routing': 'boolean', vni: 'string' } as const;

describe('parseFlags', () => {
  it('reads --name value, --name=value and a boolean alone', () => {
    expect(parseFlags(['--network', '10.244.0.0/16', '--vni=7', '--direct-routing', 'extra'], spec)).toEqual({
      values: { network: '10.244.0.0/16', vni: '7', 'direct-routing': true }, positional: ['extra'],
    });
    expect(parseFlags(['--direct-routing=false'], spec).values['direct-routing']).toBe(false);
  });

  it.each([
    [['--netwrk', 'x'], 'unknown flag --netwrk'],
    [['--network'], '--network needs a value'],
    [['--network', '--vni', '1'], '--network needs a value'],
    [['--vni', '1', '--vni=2'], '--vni is given twice'],
    [['--direct-routing=yes'], '--direct-routing: "yes" is not true or false'],
  ])('refuses %j', (args, message) => {
    expect(() => parseFlags(args, spec)).toThrow(message);
    // One error type for a command line that cannot run, in the agents and the CLI alike.
    expect(() => parseFlags(args, spec)).toThrow(FlagError);
    expect(() => parseFlags(args, spec)).toThrow(OptionsError);
  });

  it('reads whole numbers only', () => {
    expect(integerFlag({ vni: '4096' }, 'vni')).toBe(4096);
    expect(integerFlag({}, 'vni')).toBeUndefined();
    for (const bad of ['-1', '1.5', '0x10', '', '1e3']) expect(() => integerFlag({ vni: bad }, 'vni')).toThrow(`--vni: "${bad}" is not a whole number`);
  });
});
