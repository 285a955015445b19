// The agent's IPAM socket against hostile local peers: the socket is 0600
// from its creation; a peer that is not root is refused even when the file's
// mode lets it connect (the kernel's record of who connected decides, not
// the mode alone), unless it is of the group the socket is given; a request
// line longer than the cap, counted in bytes, is
// refused with an answer; a connection that sends nothing is closed, and
// connections beyond the cap are closed at once. The
// service runs as the agent runs it (serveClusterIpam, in a node netns); its
// etcd is unreachable on purpose: a served request answers code 11.
import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../lib/ipam/cluster/protocol';
import { MAX_CONNECTIONS } from '../../lib/ipam/cluster/server';
import { useHarness, type Netns } from './harness';
import { startIpamAgent, type IpamAgent } from './ipam-agent-remote';

const h = useHarness();
let ns: Netns;
let agent: IpamAgent;

// Writes argv[2] (a request, or '' for nothing; PAD in it becomes argv[3] times "€") and prints
// the answer line, or how the connection ended.
const CLIENT = `
const c = require('net').connect(process.argv[1]);
const t0 = Date.now();
let got = '';
const request = process.argv[2].replace('PAD', '€'.repeat(Number(process.argv[3] ?? 0)));
c.on('connect', () => { if (request !== '') c.write(request); });
c.on('data', (d) => (got += d));
c.on('error', (e) => { console.log(JSON.stringify({ error: e.code, got })); process.exit(0); });
c.on('close', () => { console.log(JSON.stringify({ got, closedAfterMs: Date.now() - t0 })); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify({ got, open: true })); process.exit(0); }, 20000);
`;

async function ask(
  request: string, asNobody = false, pad = 0, socket = agent.socket,
): Promise<{ got: string; closedAfterMs?: number; open?: boolean; error?: string }> {
  const argv = ['-e', CLIENT, socket, request, String(pad)];
  const r = asNobody
    ? await h.execIn(ns, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv], { timeout: 30_000 })
    : await h.execIn(ns, process.execPath, argv, { timeout: 30_000 });
  return JSON.parse(r.stdout.trim());
}

const answerOf = (r: { got: string }) => JSON.parse(r.got.split('\n')[0]!);

beforeAll(async () => {
  ns = await h.createNetns('ipamsock');
  // no route in this netns: the store's etcd requests fail at once, and are answered as code 11
  agent = await startIpamAgent(h, ns, 'node-a', { 'etcd-endpoints': 'http://10.250.0.99:2379' });
});
afterAll(async () => {
  await agent?.stop();
});

describe('the agent\'s IPAM socket', () => {
  it('is made 0600, and serves root', async () => {
    expect(statSync(agent.socket).mode & 0o777).toBe(0o600);
    const r = await ask('{"op":"pools"}\n');
    expect(answerOf(r)).toMatchObject({ ok: false, code: 11 });
  });

  it('refuses a peer that is not root, even through a socket file anyone may open', async () => {
    chmodSync(dirname(agent.socket), 0o755);
    chmodSync(agent.socket, 0o666);
    try {
      const r = await ask('{"op":"pools"}\n', true);
      expect(answerOf(r)).toMatchObject({ ok: false, code: 5 });
      expect(answerOf(r).msg).toMatch(/refuses this request: uid 65534 .*is not root/);
    } finally {
      chmodSync(agent.socket, 0o600);
    }
  });

  it('with a group: the socket is 0660 of that group, and a member of it that is not root is served', async () => {
    const grouped = await startIpamAgent(h, ns, 'node-b', { 'etcd-endpoints': 'http://10.250.0.99:2379' }, { group: 65534 });
    try {
      chmodSync(dirname(grouped.socket), 0o755);
      const st = statSync(grouped.socket);
      expect([st.mode & 0o777, st.gid]).toEqual([0o660, 65534]);
      const r = await ask('{"op":"pools"}\n', true, 0, grouped.socket);
      expect(answerOf(r)).toMatchObject({ ok: false, code: 11 });
    } finally {
      await grouped.stop();
    }
  });

  it('refuses a request line longer than the cap in bytes, with an answer', async () => {
    // fewer characters than the cap, more bytes: "€" is three
    const r = await ask('{"op":"pools","pad":"PAD"}\n', false, Math.ceil(MAX_MESSAGE_BYTES / 3) + 10);
    expect(answerOf(r)).toMatchObject({ ok: false, code: 6 });
    expect(answerOf(r).msg).toMatch(/longer than \d+ bytes/);
  });

  it('serves at most MAX_CONNECTIONS connections at once: more are closed at once', async () => {
    // 70 connections that send nothing: the idle timeout closes the first 64 in seconds, the other 6 go at once
    const opener = `
      const closedSoon = [];
      const t0 = Date.now();
      for (let i = 0; i < 70; i++) {
        const c = require('net').connect(process.argv[1]);
        c.on('error', () => undefined);
        c.on('close', () => { if (Date.now() - t0 < 3000) closedSoon.push(i); });
      }
      setTimeout(() => { console.log(closedSoon.length); process.exit(0); }, 3000);`;
    const r = await h.execIn(ns, process.execPath, ['-e', opener, agent.socket], { timeout: 30_000 });
    // a connection of an earlier case the server has not counted out yet may take one more place
    const closedSoon = Number(r.stdout.trim());
    expect(closedSoon).toBeGreaterThanOrEqual(70 - MAX_CONNECTIONS);
    expect(closedSoon).toBeLessThan(70 - MAX_CONNECTIONS + 5);
  });

  it('closes a connection that sends no request', async () => {
    const r = await ask('');
    expect(r.open).toBeUndefined();
    expect(r.got).toBe('');
    expect(r.closedAfterMs).toBeLessThan(15_000);
  });
});
