// How tscni reaches etcd: its v3 API as JSON over HTTP(S), which etcd 3.4
// serves at /v3/... beside gRPC (Debian's etcd-server is 3.4; /v3beta/ is the
// deprecated spelling of the same). A gRPC client would cost every process
// that loads it ~130 ms of start-up; node:http(s) needs no dependency, works
// under Bun as under Node, and costs ~10-20 ms of start-up when it is loaded
// (measured here, Bun-compiled), which is why no plugin loads this module
// (test/unit/layout.test.ts) and the CLI loads it only for its etcd commands.
//
// Several endpoints are members of one cluster: a request goes to the
// endpoint that answered last, and moves on to the next when that one cannot
// be reached (or answers "unavailable"); etcd's own answers (a missing lease,
// a bad request) are final and name the endpoint that gave them.
//
// An answer is read into memory, so its size is capped (maxResponseBytes):
// an endpoint that sends without end fails the call instead of exhausting
// the process. A watch's messages are capped the same way, each; a message
// that is not JSON ends the stream with the reason, as a broken connection
// does, and the watch opens it again from the revision it needs.
import * as http from 'node:http';
import * as https from 'node:https';

export interface EtcdTls {
  /** PEM: the CA that signed the members' certificates */
  ca?: Buffer;
  /** PEM: client certificate and key, for members that require client certificates */
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdConnectionOptions {
  /** e.g. ["https://10.250.0.2:2379"]; members of one cluster */
  endpoints: string[];
  tls?: EtcdTls;
  /** per attempt on one endpoint, connect through answer; default 5000 */
  timeoutMs?: number;
  /** the largest answer, and the largest watch message, read; default MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
}

/**
 * Far above what tscni reads (a range over every block of a large cluster is
 * a few MiB; etcd refuses requests above 1.5 MiB), far below what would hurt.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** gRPC status codes etcd answers with (the gateway passes them through as `code`). */
export const GrpcCode = { InvalidArgument: 3, NotFound: 5, FailedPrecondition: 9, Unavailable: 14 } as const;

/** etcd answered, with an error. */
export class EtcdError extends Error {
  constructor(readonly endpoint: string, readonly path: string, readonly grpcCode: number, readonly detail: string) {
    super(`etcd ${endpoint}${path}: ${detail}`);
    this.name = 'EtcdError';
  }
}

/** No endpoint answered; the message lists what happened at each. */
export class EtcdUnreachableError extends Error {
  constructor(readonly failures: { endpoint: string; reason: string }[]) {
    super(`etcd unreachable: ${failures.map((f) => `${f.endpoint}: ${f.reason}`).join('; ')}`);
    this.name = 'EtcdUnreachableError';
  }
}

/** "http://host:port" with nothing after it; a string is the problem. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not a URL (e.g. http://10.250.0.2:2379)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${endpoint}" must start with http:// or https://`;
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') return `"${endpoint}" must be scheme://host:port only`;
  return undefined;
}

/** What went wrong on the way to an endpoint, in one line (OpenSSL's messages carry a source location). */
function reasonOf(e: Error & { code?: string; reason?: string }): string {
  if (!e.code?.startsWith('ERR_SSL_')) return e.message;
  const reason = e.reason ?? e.code;
  const hint = /bad certificate|certificate required|unknown ca/.test(reason) ? ' (the member did not accept our client certificate, or got none)' : '';
  return `TLS handshake failed: ${reason}${hint}`;
}

export interface StreamHandle {
  /** ends the stream; no more messages are delivered */
  close(): void;
  /** settles when the stream ends: by close(), by the server, by a broken connection or a bad message; says which */
  done: Promise<string>;
}

export class EtcdTransport {
  readonly endpoints: readonly string[];
  private current = 0;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  constructor(opts: EtcdConnectionOptions) {
    if (opts.endpoints.length === 0) throw new Error('etcd: no endpoints');
    for (const e of opts.endpoints) {
      const problem = endpointProblem(e);
      if (problem) throw new Error(`etcd endpoint ${problem}`);
    }
    this.endpoints = opts.endpoints.map((e) => e.replace(/\/$/, ''));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxBytes = opts.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.httpsAgent = new https.Agent({ keepAlive: true, ...opts.tls });
  }

  /** One request/answer call, e.g. call('/v3/kv/range', {key}); fails over between endpoints. */
  async call<T = any>(path: string, body: unknown): Promise<T> {
    const failures: { endpoint: string; reason: string }[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.current + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      let answer: { status: number; json: any };
      try {
        answer = await this.post(endpoint, path, body);
      } catch (e) {
        failures.push({ endpoint, reason: reasonOf(e as Error) });
        continue;
      }
      const { status, json } = answer;
      if (status === 200) {
        this.current = index;
        return json as T;
      }
      const detail = String(json?.message ?? json?.error ?? `HTTP ${status}`);
      if (json?.code === GrpcCode.Unavailable || status === 503) {
        failures.push({ endpoint, reason: detail });
        continue;
      }
      this.current = index;
      throw new EtcdError(endpoint, path, Number(json?.code ?? 0), detail);
    }
    throw new EtcdUnreachableError(failures);
  }

  /**
   * A streaming call (/v3/watch): each JSON message the server sends is handed
   * to onMessage. Opens on the first endpoint that accepts it.
   */
  async stream(path: string, body: unknown, onMessage: (msg: any, endpoint: string) => void): Promise<StreamHandle> {
    const failures: { endpoint: string; reason: string }[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.current + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        const handle = await this.openStream(endpoint, path, body, onMessage);
        this.current = index;
        return handle;
      } catch (e) {
        failures.push({ endpoint, reason: reasonOf(e as Error) });
      }
    }
    throw new EtcdUnreachableError(failures);
  }

  /** Closes idle keep-alive connections, so a short-lived process can exit. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private request(endpoint: string, path: string, payload: string): http.ClientRequest {
    const url = new URL(path, endpoint + '/');
    const secure = url.protocol === 'https:';
    const options: http.RequestOptions = {
      method: 'POST',
      agent: secure ? this.httpsAgent : this.httpAgent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    };
    return (secure ? https : http).request(url, options);
  }

  private post(endpoint: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.request(endpoint, path, payload);
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes <= this.maxBytes) return void chunks.push(c);
          // destroyed without an error: one given here would reach the socket, where no one listens
          clearTimeout(timer);
          res.destroy();
          reject(new Error(`the answer is larger than ${this.maxBytes} bytes`));
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode ?? 0, json: text === '' ? {} : JSON.parse(text) });
          } catch {
            reject(new Error(`HTTP ${res.statusCode}: not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.end(payload);
    });
  }

  private openStream(
    endpoint: string, path: string, body: unknown, onMessage: (msg: any, endpoint: string) => void,
  ): Promise<StreamHandle> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.request(endpoint, path, payload);
      let opened = false;
      let closed = false;
      let finish!: (reason: string) => void;
      const done = new Promise<string>((r) => (finish = r));
      const close = (reason = 'closed') => {
        closed = true;
        req.destroy();
        finish(reason);
      };
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      // The stream can be idle for hours; TCP keepalive notices a member that vanished.
      req.on('socket', (s) => s.setKeepAlive(true, 10_000));
      req.on('error', (e) => {
        clearTimeout(timer);
        if (!opened) reject(e);
        finish(reasonOf(e));
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        opened = true;
        resolve({ close: () => close(), done });
        // The gateway writes one JSON object per line.
        const deliver = (line: string) => {
          let msg: unknown;
          try {
            msg = JSON.parse(line);
          } catch {
            close(`a message that is not JSON: ${line.slice(0, 100)}`);
            return;
          }
          onMessage(msg, endpoint);
        };
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        res.on('data', (chunk: Buffer) => {
          for (let nl = chunk.indexOf(0x0a); nl >= 0 && !closed; nl = chunk.indexOf(0x0a)) {
            const line = Buffer.concat([...pending, chunk.subarray(0, nl)]).toString('utf8').trim();
            pending = [];
            pendingBytes = 0;
            chunk = chunk.subarray(nl + 1);
            if (line !== '') deliver(line);
          }
          pendingBytes += chunk.length;
          if (pendingBytes > this.maxBytes) close(`a watch message is larger than ${this.maxBytes} bytes`);
          else if (!closed) pending.push(chunk);
        });
        res.on('end', () => finish('stream ended'));
        res.on('error', (e) => finish(reasonOf(e)));
        res.on('close', () => finish('stream ended'));
      });
      req.end(payload);
    });
  }
}
