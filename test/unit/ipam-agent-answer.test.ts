// What cluster-ipam makes of an agent that answers something other than an
// answer: CNI code 11 (try again later), as for an agent that does not answer.
// The agent is a real unix socket server in a child process (askAgent blocks
// this one's event loop while it waits), one scripted answer per connection.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { poll } from '../../lib/lab/poll';

const ANSWERS = [
  'this is not JSON\n',
  '{"ok":true,"ips":[{"address":"10.244.0.5/26"\n', // cut inside the document, then a newline
  'null\n',
  '[1,2]\n',
  '{"ok":false}\n', // an error without a code
  '{"ok":"yes","released":[]}\n',
  '{"ok":true}\n', // a release answer without its list
  '{"ok":false,"code":7,"msg":"bad handle"}\n', // a real error: passed on as it is
  '{"ok":true,"released":["h1"]}\n',
];

const SERVER = `
const net = require('node:net');
const answers = JSON.parse(process.argv[2]);
let n = 0;
net.createServer((c) => {
  c.once('data', () => c.end(answers[n++ % answers.length]));
}).listen(process.argv[1], () => process.stdout.write('ready\\n'));
`;

let dir: string;
let socket: string;
let server: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `tscni-agent-answer-${process.pid}-`));
  socket = join(dir, 'agent.sock');
  server = spawn(process.execPath, ['-e', SERVER, socket, JSON.stringify(ANSWERS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await poll('the test agent socket', () => existsSync(socket), 20_000);
});

afterAll(() => {
  if (server?.pid) server.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function errorOf(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw new Error(`not a CniError: ${String(e)}`);
  }
  throw new Error('did not throw');
}

describe('askAgent', () => {
  // In ANSWERS' order: the server answers the n-th connection with ANSWERS[n].
  const garbled = ['not JSON', 'cut short', 'null', 'an array', 'an error without a code', 'ok that is not true', 'no list'];
  for (const what of garbled) {
    it(`an answer that is ${what} is code 11, saying so`, () => {
      const e = errorOf(() => askAgent(socket, { op: 'release', handle: 'h1' }, 5_000));
      expect(e.code).toBe(ErrorCode.TryAgainLater);
      expect(e.msg).toMatch(/answered something that is not an answer .*; try again later$/);
    });
  }
  it("an agent's error is passed on", () => {
    const e = errorOf(() => askAgent(socket, { op: 'release', handle: 'h1' }, 5_000));
    expect({ code: e.code, msg: e.msg }).toEqual({ code: 7, msg: 'bad handle' });
  });
  it('a good answer is the answer', () => {
    expect(askAgent(socket, { op: 'release', handle: 'h1' }, 5_000)).toEqual({ ok: true, released: ['h1'] });
  });
});
