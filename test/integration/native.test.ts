// lib/native against the kernel: the blocking netlink socket (multipart
// dumps, sequence numbers, refusals, a missing answer) and runProgram's
// checks (a deadline, over-long or malformed arguments). What starts a
// process runs in a Node child inside a namespace this file made.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, Rtnl } from '../../lib/netlink';
import { NLM_F, RTM } from '../../lib/netlink/constants';
import { NetlinkSocket, nlmsg } from '../../lib/netlink/request';
import { withNetns } from '../../lib/netns';
import { execIn, ipJson, useHarness, type Netns } from './harness';

const h = useHarness();
const ADDON = join(__dirname, '../../lib/native/build/Release/tscni_native.node');
const ROUTES = 3000;
let node: Netns;

beforeAll(async () => {
  node = await h.createNode();
  await h.execIn(node, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await h.execIn(node, 'ip', ['link', 'set', 'br0', 'up']);
  // Enough routes that their dump takes many datagrams (each at most 32 KiB).
  const batch = Array.from({ length: ROUTES }, (_, i) => `route add 10.${100 + (i >> 8)}.${i & 255}.0/24 dev br0`).join('\n');
  await h.execIn(node, 'ip', ['-batch', '-'], { input: `${batch}\n` });
});

/** Runs `body` (JavaScript, with `n` the native addon) in a Node child inside the node's namespace; its JSON output. */
async function inNode(body: string): Promise<any> {
  const script = `const n = require(${JSON.stringify(ADDON)});
    const out = (v) => process.stdout.write(JSON.stringify(v));
    const caught = (f) => { try { return { value: f() }; } catch (e) { return { name: e.name, message: e.message, errno: e.errno }; } };
    ${body}`;
  const r = await execIn(node, process.execPath, ['-e', script], { timeout: 30_000 });
  return JSON.parse(r.stdout);
}

describe('netlink socket', () => {
  it('reads a dump of many parts whole', async () => {
    const ours = await Rtnl.use(node.path, (nl) => nl.routes.list({ family: 4 }));
    const oracle = await ipJson(node, ['-4', 'route', 'show']);
    expect(ours.length).toBe(oracle.length);
    expect(ours.filter((r) => /^10\.1\d\d\./.test(String(r.dst))).length).toBe(ROUTES);
    expect(ours.map((r) => String(r.dst))).toContain(`10.${100 + ((ROUTES - 1) >> 8)}.${(ROUTES - 1) & 255}.0/24`);
  });

  it('answers each request with its own answers, dropping those of an earlier one', async () => {
    const sock = withNetns(node.path, () => new NetlinkSocket(0));
    try {
      // A dump nobody reads: its answers wait in the socket ahead of the next request's.
      sock.send('unread dump', nlmsg(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP, sock.nextSeq(), [Buffer.alloc(12)]));
      const ifinfo = Buffer.alloc(16);
      ifinfo.writeInt32LE(1, 4); // ifindex of lo
      const answers = sock.request('get lo', RTM.GETLINK, 0, [ifinfo]);
      expect(answers.map((a) => a.type)).toEqual([RTM.NEWLINK]);
      expect(answers[0]!.data.readInt32LE(4)).toBe(1);
    } finally {
      sock.close();
    }
  });

  it('turns a refusal into the errno and the operation', async () => {
    const err = await Rtnl.use(node.path, (nl) => nl.routes.add({ dst: '10.100.0.0/24', dev: 'br0' })).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EEXIST');
  });

  it('fails with ETIMEDOUT when no answer comes, instead of waiting forever', async () => {
    const r = await inNode('const fd = n.netlinkOpen(0, 0, 200); out(caught(() => n.netlinkReceive(fd)));');
    expect(r).toMatchObject({ errno: 110, message: expect.stringContaining('netlink receive') });
  });

  it('refuses to use a closed socket', () => {
    const sock = withNetns(node.path, () => new NetlinkSocket(0));
    sock.close();
    expect(() => sock.request('get lo', RTM.GETLINK, 0, [Buffer.alloc(16)])).toThrow(/socket is closed/);
  });
});

describe('runProgram', () => {
  it('runs a program to completion with its output and exit status', async () => {
    const r = await inNode(`out(n.runProgram('/bin/sh', ['sh', '-c', 'echo out; echo err >&2; exit 3'], 10000));`);
    expect(r).toEqual({ status: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('kills a program still running at the deadline and reports it', async () => {
    const r = await inNode(`
      const r = caught(() => n.runProgram('/bin/sh', ['sh', '-c', 'echo $$ > /dev/stderr; exec sleep 60'], 300));
      out(r);`);
    expect(r).toMatchObject({ errno: 110, message: expect.stringMatching(/\/bin\/sh did not finish within 300 ms, killed/) });
  });

  it('leaves no child behind after the deadline', async () => {
    const r = await inNode(`
      const fs = require('fs');
      const pidFile = require('os').tmpdir() + '/' + ${JSON.stringify(h.prefix)} + process.pid;
      caught(() => n.runProgram('/bin/sh', ['sh', '-c', 'echo $$ > ' + pidFile + '; exec sleep 60'], 300));
      const pid = fs.readFileSync(pidFile, 'utf8').trim();
      fs.rmSync(pidFile);
      out({ alive: fs.existsSync('/proc/' + pid) });`);
    expect(r).toEqual({ alive: false });
  });

  it('rejects a path longer than PATH_MAX instead of running a truncated one', async () => {
    // Cut at 4095 bytes, this path would name /usr/bin/ itself (EACCES), not report its length.
    const r = await inNode(`
      const p = '/usr/bin/' + './'.repeat(2100) + 'true';
      out(caught(() => n.runProgram(p, ['true'], 10000)));`);
    expect(r).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/path is 4213 bytes long/) });
  });

  it('rejects arguments that are not strings, or hold a NUL byte', async () => {
    const r = await inNode(`out([
      caught(() => n.runProgram('/bin/echo', ['echo', 42], 10000)),
      caught(() => n.runProgram('/bin/echo', ['echo', 'a\\u0000b'], 10000)),
      caught(() => n.runProgram('/bin/echo', 'echo', 10000)),
      caught(() => n.runProgram('/bin/echo', ['echo'])),
    ]);`);
    expect(r).toEqual([
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('argv[1] must be a string') }),
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('argv[1] contains a NUL byte') }),
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('runProgram(path') }),
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('timeoutMs') }),
    ]);
  });

  it('reports a program that cannot be started with its errno', async () => {
    const r = await inNode(`out(caught(() => n.runProgram('/nonexistent/nft', ['nft'], 10000)));`);
    expect(r).toMatchObject({ errno: 2, message: expect.stringContaining('/nonexistent/nft') });
  });
});
