/**
 * Local tasks as real OS processes: spawn, wait for the port, stop (SIGTERM, then SIGKILL), free ports.
 *
 * Orphans: each process gets its stdin as a pipe; the demo app exits when stdin closes, so even a SIGKILLed parent
 * (whose end of the pipe the kernel closes) leaves nothing behind. `killAllSync` covers a parent that exits normally
 * without calling close().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname } from 'node:path';

export interface TaskExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logFile: string;
}

/**
 * Variables a task inherits from rollgate's own environment (a container sees none of its host's): these, and any
 * `ROLLGATE_TEST_*` (tests mark their processes with one to find survivors). Everything else is the container's.
 */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'TZ', 'SystemRoot'];
const INHERITED_PREFIX = 'ROLLGATE_TEST_';

const live = new Set<ChildProcess>();

/** A running (or exited) task process. */
export class TaskProcess {
  readonly pid: number;
  /** Resolves once, when the process has exited (never rejects). */
  readonly exited: Promise<TaskExit>;
  #exit: TaskExit | undefined;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, pid: number, exited: Promise<TaskExit>) {
    this.#child = child;
    this.pid = pid;
    this.exited = exited.then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  /**
   * Spawns the command with a minimal environment plus `env`. Rejects when the process cannot be spawned at all
   * (e.g. ENOENT), which ECS would report as CannotStartContainerError.
   */
  static start(options: StartProcessOptions): Promise<TaskProcess> {
    const [file, ...args] = options.command;
    if (file === undefined) return Promise.reject(new Error('empty command'));
    // `node` means the Node that runs rollgate, whatever PATH says.
    const executable = file === 'node' ? process.execPath : file;
    const env: Record<string, string> = {};
    for (const name of INHERITED_ENV) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    for (const [name, value] of Object.entries(process.env)) {
      if (name.startsWith(INHERITED_PREFIX) && value !== undefined) env[name] = value;
    }
    Object.assign(env, options.env);
    mkdirSync(dirname(options.logFile), { recursive: true });
    const log = openSync(options.logFile, 'a');
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(executable, args, { cwd: options.cwd, env, stdio: ['pipe', log, log], windowsHide: true });
      } catch (error) {
        closeSync(log);
        reject(error);
        return;
      }
      // The child holds its own copy of the descriptor.
      closeSync(log);
      // Writing to a dead child's stdin must not crash rollgate.
      child.stdin?.on('error', () => undefined);
      const exited = new Promise<TaskExit>((done) => {
        child.once('exit', (code, signal) => {
          live.delete(child);
          child.stdin?.destroy();
          done({ code, signal });
        });
      });
      child.once('error', (error) => {
        if (child.pid === undefined) reject(error);
      });
      child.once('spawn', () => {
        live.add(child);
        resolve(new TaskProcess(child, child.pid ?? -1, exited));
      });
    });
  }

  /** The exit status once exited, otherwise undefined. */
  get exit(): TaskExit | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs: number): Promise<TaskExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL now; resolves on exit. */
  kill(): Promise<TaskExit> {
    if (this.#exit === undefined) this.#child.kill('SIGKILL');
    return this.exited;
  }
}

/** SIGKILLs every task process still alive; for a `process.on('exit')` hook, where nothing async runs. */
export function killAllSync(): void {
  for (const child of live) child.kill('SIGKILL');
}

const reserved = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (asked from the kernel), not handed out before by this process while still reserved.
 * Release it with `releasePort` when the task is gone.
 */
export async function allocatePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const found = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port > 0 && !reserved.has(port)) {
      reserved.add(port);
      return port;
    }
  }
  throw new Error('no free port on 127.0.0.1');
}

export function releasePort(port: number): void {
  reserved.delete(port);
}

/** True when a TCP connection to 127.0.0.1:port succeeds within `timeoutMs`. */
export function canConnect(port: number, timeoutMs = 500, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Polls until the port accepts TCP connections. Resolves `open`, `exited` (the process died first) or `timeout`;
 * `cancelled()` returning true ends the wait early with `cancelled`.
 */
export async function waitForPort(
  port: number,
  proc: TaskProcess,
  timeoutMs: number,
  cancelled: () => boolean = () => false,
): Promise<'open' | 'exited' | 'timeout' | 'cancelled'> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  while (Date.now() < deadline) {
    if (!proc.running) return 'exited';
    if (cancelled()) return 'cancelled';
    if (await canConnect(port, 250)) return proc.running ? 'open' : 'exited';
    const exited = await Promise.race([proc.exited.then(() => true), sleep(delay).then(() => false)]);
    if (exited) return 'exited';
    delay = Math.min(delay * 2, 200);
  }
  return 'timeout';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
