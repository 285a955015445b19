// Plugin logs a person can read at 3 a.m.: one text line per event, every
// line carrying the attachment it is about, written to the config's `logFile`
// (or stderr), never to stdout, which belongs to the CNI result.
//
//   2026-11-23T20:50:12.345Z [ERROR][4711] bridge ADD containerID=abc netns=/run/netns/p1 ifname=eth0: ADD failed step="pod addresses" code=7 error="…" took=12.3ms
//
// Config fields, as Calico's plugin has them:
//   logLevel  error | warn | info | debug   (default error)
//   logFile   absolute path, appended to, created 0600 (its directory 0700);
//             a symlink there is refused (lines go to stderr)
// Without logFile, lines go to stderr, where runtimes keep a plugin's output.
// At the default level nothing but failures is formatted or timed.

import { closeSync, constants, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { invalidConfig } from './errors';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  level: LogLevel;
  /** absolute path; stderr when absent */
  file?: string;
}

/** Values a line can carry; lists are printed comma-separated. */
export type LogFields = Record<string, string | number | boolean | readonly string[] | undefined>;

/** What every line of one CNI call starts with. */
export interface LogContext {
  plugin: string;
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
}

export const DEFAULT_LOG_LEVEL: LogLevel = 'error';

// A plugin executable may log to stderr; code that calls dispatch() in a test
// or a CLI must not have stray lines appear on its terminal, so stderr is
// opt-in, switched on by runPlugin().
let stderrAllowed = false;

/** Lets loggers without a logFile write to stderr (the plugin executable's main calls this). */
export function allowStderrLogging(): void {
  stderrAllowed = true;
}

/** `logLevel` and `logFile` from a plugin config; code 7 naming the field when malformed. */
export function parseLogOptions(raw: Record<string, unknown>): LogOptions {
  const level = raw.logLevel ?? DEFAULT_LOG_LEVEL;
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level.toLowerCase())) {
    throw invalidConfig('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const file = raw.logFile;
  if (file === undefined || file === '') return { level: level.toLowerCase() as LogLevel };
  if (typeof file !== 'string') throw invalidConfig('logFile', 'must be a string');
  if (!isAbsolute(file)) throw invalidConfig('logFile', 'must be an absolute path');
  if (file.includes('\0')) throw invalidConfig('logFile', 'must not contain NUL');
  if (file.endsWith('/')) throw invalidConfig('logFile', 'must name a file, not a directory');
  return { level: level.toLowerCase() as LogLevel, file };
}

const rankOf = (level: LogLevel) => LOG_LEVELS.indexOf(level);

/** Milliseconds from a monotonic clock (process.hrtime: no perf_hooks to load). */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** logfmt-style value: bare when it is a plain token, JSON-quoted otherwise. */
function formatValue(v: string | number | boolean | readonly string[]): string {
  const s = Array.isArray(v) ? v.join(', ') : String(v);
  return s !== '' && /^[\w./:@%+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)}ms`;
}

export class Logger {
  private readonly rank: number;
  private readonly started = now();
  private file: string | undefined;
  private fd: number | undefined;
  private stepName: string | undefined;
  private stepStarted = 0;

  constructor(
    options: LogOptions,
    private readonly context: LogContext,
  ) {
    this.rank = rankOf(options.level);
    this.file = options.file;
  }

  enabled(level: LogLevel): boolean {
    return rankOf(level) <= this.rank;
  }

  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    if (this.rank >= 1) this.write('warn', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    if (this.rank >= 2) this.write('info', msg, fields);
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.rank >= 3) this.write('debug', msg, fields);
  }

  /**
   * Marks the start of a named step of the command. A failure is reported
   * with the step in progress; at debug level each finished step is logged
   * with its duration.
   */
  step(name: string): void {
    this.endStep();
    this.stepName = name;
    if (this.rank >= 3) this.stepStarted = now();
  }

  /** The step in progress, if the command named its steps. */
  get currentStep(): string | undefined {
    return this.stepName;
  }

  /** Time since the command started. */
  took(): string {
    return formatMs(now() - this.started);
  }

  /**
   * Closes the log file. A step still open is not logged as done: the
   * command failed in it, and its failure line has already named it.
   */
  finish(): void {
    this.stepName = undefined;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // nothing left to do about a log file that will not close
      }
      this.fd = undefined;
    }
  }

  /** Ends the step in progress, if any (at debug level: logs its duration). */
  endStep(): void {
    if (this.stepName !== undefined && this.rank >= 3) {
      this.write('debug', 'step done', { step: this.stepName, took: formatMs(now() - this.stepStarted) });
    }
    this.stepName = undefined;
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    const c = this.context;
    let line = `${new Date().toISOString()} [${level.toUpperCase()}][${process.pid}] ${c.plugin} ${c.command}`;
    for (const [k, v] of [['containerID', c.containerId], ['netns', c.netns], ['ifname', c.ifname]] as const) {
      if (v) line += ` ${k}=${formatValue(v)}`;
    }
    line += `: ${msg}`;
    for (const [k, v] of Object.entries(fields ?? {})) if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
    this.emit(line + '\n');
  }

  // Logging never fails the CNI command: a log file that cannot be opened
  // sends the lines to stderr, with one line saying why.
  private emit(line: string): void {
    const fd = this.target();
    if (fd === undefined) return;
    try {
      writeSync(fd, line);
    } catch {
      // a full disk must not turn a working ADD into a failed one
    }
  }

  private target(): number | undefined {
    if (this.fd !== undefined) return this.fd;
    const file = this.file;
    if (file === undefined) return stderrAllowed ? 2 : undefined;
    try {
      this.fd = openLogFile(file);
      return this.fd;
    } catch (e) {
      this.file = undefined;
      if (!stderrAllowed) return undefined;
      writeSync(2, `${this.context.plugin}: cannot open logFile ${file}: ${(e as Error).message}; logging to stderr\n`);
      return 2;
    }
  }
}

// The plugin runs as root and the path comes from a config: a symlink put
// where the log file should be must not make it append to another file.
const LOG_OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

function openLogFile(file: string): number {
  try {
    return openSync(file, LOG_OPEN_FLAGS, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    return openSync(file, LOG_OPEN_FLAGS, 0o600);
  }
}
