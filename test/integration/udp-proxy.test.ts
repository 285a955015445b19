// The udp backend's packet loop (lib/native/udp_proxy.c) on its own, in a
// namespace: a packet the kernel routes into the TUN goes to the node of the
// longest matching prefix, as a datagram whose payload is the packet; a
// destination no route covers is counted and dropped; a datagram that
// arrives from a node of the table is written into the TUN, one from any other
// address or one too large to carry whole is counted and dropped; no other
// socket can bind the port beside the loop's; a TUN that goes away stops the
// loop, and says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../lib/native';
import { withNetns } from '../../lib/netns';
import { encodeRoutes } from '../../agent/overlay/udp/proxy';
import { addAddress, ip, ipJson, poll, useHarness, type Netns } from './harness';

const h = useHarness();
const PORT = 8285;
let ns: Netns;
let tun: number;
let handle: number;
const received: Record<string, string[]> = { '127.0.0.2': [], '127.0.0.3': [] };

// Prints the inner destination of every datagram it gets, as "<dst>".
const RECEIVER = `
const s = require('dgram').createSocket('udp4');
s.on('message', (m) => console.log(m.length >= 20 ? [16, 17, 18, 19].map((i) => m[i]).join('.') : 'short'));
s.bind(${PORT}, process.argv[1], () => console.log('listening'));
setTimeout(() => process.exit(0), 30000);
`;
const SEND = (host: string, port: number, payloadHex = '78', from = '0.0.0.0') =>
  `const s = require('dgram').createSocket('udp4'); s.bind(0, '${from}', () => s.send(Buffer.from('${payloadHex}', 'hex'), ${port}, '${host}', () => s.close()));`;
/** An IPv4 header alone (protocol 253, for experiments) from 10.244.9.9 to 10.244.0.0, as a peer's loop would send it. */
const INNER_PACKET = '4500001400004000fdfd0000' + '0af40909' + '0af40000';

beforeAll(async () => {
  ns = await h.createNetns('proxy');
  await addAddress(ns, 'lo', '127.0.0.2/8');
  await addAddress(ns, 'lo', '127.0.0.3/8');
  await addAddress(ns, 'lo', '127.0.0.4/8');
  for (const host of Object.keys(received)) {
    const r = h.startDaemon(ns, process.execPath, ['-e', RECEIVER, host]);
    await new Promise<void>((resolve) => {
      r.stdout!.on('data', (d: Buffer) => {
        for (const line of d.toString().trim().split('\n')) (line === 'listening' ? resolve() : received[host]!.push(line));
      });
    });
  }
  // the loop's socket and threads belong to the namespace they are made in
  withNetns(ns.path, () => {
    tun = native().tunOpen('tproxy0');
    handle = native().udpProxyStart(tun, '127.0.0.1', PORT);
  });
  await addAddress(ns, 'tproxy0', '10.244.0.0/32');
  await ip(ns, ['link', 'set', 'tproxy0', 'up']);
  await ip(ns, ['route', 'add', '10.244.0.0/16', 'dev', 'tproxy0']);
});

const ipJsonStats = () => ipJson(ns, ['-s', 'link', 'show', 'tproxy0']);
const rxPackets = async () => (await ipJsonStats())[0].stats64.rx.packets as number;
const counter = (i: number) => native().udpProxyCounters(handle)[i];
const FROM_PEERS = 1;
const UNKNOWN_SOURCE = 5;
const OVERSIZED = 6;
const LANES_STOPPED = 8;

afterAll(() => {
  if (handle !== undefined) native().udpProxyStop(handle);
  if (tun !== undefined) native().close(tun);
});

describe('udp packet loop', () => {
  it('sends each packet to the node of the longest matching prefix, and drops what no route covers', async () => {
    native().udpProxySetRoutes(handle, encodeRoutes([
      { network: 0x0af40000n, prefix: 16, nextHop: '127.0.0.2' },
      { network: 0x0af40500n, prefix: 24, nextHop: '127.0.0.3' },
    ]));
    await h.execIn(ns, process.execPath, ['-e', SEND('10.244.5.7', 9)]);
    await h.execIn(ns, process.execPath, ['-e', SEND('10.244.9.7', 9)]);
    await poll('both datagrams', () => received['127.0.0.2']!.length + received['127.0.0.3']!.length >= 2, 5_000);
    expect(received).toEqual({ '127.0.0.2': ['10.244.9.7'], '127.0.0.3': ['10.244.5.7'] });

    native().udpProxySetRoutes(handle, encodeRoutes([{ network: 0x0af40500n, prefix: 24, nextHop: '127.0.0.3' }]));
    await h.execIn(ns, process.execPath, ['-e', SEND('10.244.9.8', 9)]);
    await poll('the packet without a route counted', () => native().udpProxyCounters(handle)[2] === 1, 5_000);
    expect(received['127.0.0.2']).toEqual(['10.244.9.7']);
  });

  it('writes a datagram from a node of its table into the TUN', async () => {
    const before = await rxPackets();
    await h.execIn(ns, process.execPath, ['-e', SEND('127.0.0.1', PORT, INNER_PACKET, '127.0.0.3')]);
    await poll('the datagram written to the TUN', () => counter(FROM_PEERS) === 1, 5_000);
    expect(await rxPackets()).toBe(before + 1);
  });

  it('drops and counts a datagram from an address that is no node of its table', async () => {
    const before = await rxPackets();
    await h.execIn(ns, process.execPath, ['-e', SEND('127.0.0.1', PORT, INNER_PACKET, '127.0.0.4')]);
    await poll('the datagram from 127.0.0.4 counted', () => counter(UNKNOWN_SOURCE) === 1, 5_000);
    // a node's datagram sent after it arrives: the unknown one was not written before it
    await h.execIn(ns, process.execPath, ['-e', SEND('127.0.0.1', PORT, INNER_PACKET, '127.0.0.3')]);
    await poll('the node\'s datagram written', () => counter(FROM_PEERS) === 2, 5_000);
    expect(await rxPackets()).toBe(before + 1);
  });

  it('drops and counts a datagram larger than a slot instead of writing it cut short', async () => {
    const before = await rxPackets();
    const large = INNER_PACKET + '00'.repeat(9300);
    await h.execIn(ns, process.execPath, ['-e', SEND('127.0.0.1', PORT, large, '127.0.0.3')]);
    await poll('the oversized datagram counted', () => counter(OVERSIZED) === 1, 5_000);
    expect(counter(FROM_PEERS)).toBe(2);
    expect(await rxPackets()).toBe(before);
  });

  it('keeps its port: another socket cannot bind it, even asking for SO_REUSEADDR', async () => {
    const bind = `const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
      s.on('error', (e) => { console.log(e.code); process.exit(0); });
      s.bind(${PORT}, '127.0.0.1', () => { console.log('bound'); s.close(); });`;
    // nobody, as any local user would try it
    const r = await h.execIn(ns, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', bind]);
    expect(r.stdout.trim()).toBe('EADDRINUSE');
  });

  it('refuses an address string longer than an IPv4 address instead of binding its first 15 bytes', () => {
    // cut to 15 bytes, "127.100.100.1001" is 127.100.100.100, a loopback address the loop could bind
    withNetns(ns.path, () => {
      const other = native().tunOpen('tproxy1');
      const start = (address: string) => {
        try {
          native().udpProxyStop(native().udpProxyStart(other, address, PORT + 1));
          return 'started';
        } catch (e) {
          return (e as Error).message;
        }
      };
      try {
        expect(start('127.100.100.1001')).toMatch(/address: IPv4/);
        expect(start('127.0.0.1\u0000junk')).toMatch(/address: IPv4/);
        expect(start('127.100.100.100')).toBe('started');
      } finally {
        native().close(other);
      }
    });
  });

  it('reports a lane stopped when its TUN device is deleted under it', async () => {
    await ip(ns, ['link', 'del', 'tproxy0']);
    await poll('the stopped lane counted', () => counter(LANES_STOPPED) === 1, 5_000);
  });
});
