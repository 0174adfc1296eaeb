/**
 * The load generator engine: an open-model (constant arrival rate) HTTP load generator.
 *
 * - Request i is due at `i / rate` rounded up to the next scheduler tick (`tickMs`). Its latency is measured from that
 *   intended time, not from when it was written, so a stalled target cannot slow the generator down and hide its own
 *   stall (coordinated omission; as wrk2 and k6's constant-arrival-rate executor do).
 * - One timer wake-up per tick sends every request due in it: no timer per request. A completion also sends due
 *   requests that were waiting for room.
 * - A due request goes to a free connection; with none free it waits in a FIFO queue (its wait counts in its latency)
 *   while fewer than `maxInFlight` are outstanding. Requests that found no room and whose tick ended are counted as
 *   dropped, never silently skipped.
 * - How late the scheduler handled each request goes to its own histogram: if that is high, the generator (CPU, event
 *   loop) was the bottleneck, not the target.
 * - One keep-alive connection per `connections`, at most one request in flight on each, through the minimal HTTP/1.1
 *   client in http1.ts (the request bytes are built once; responses are parsed in place). Per request it costs about
 *   a third of undici's CPU, which matters most at moderate rates (bench/loadgen.ts).
 * - Per-request timeouts: one sweep timer checks every connection's deadline (no timer per request).
 */
import { performance } from 'node:perf_hooks';
import { classifyError, classifyStatus } from './classify-error.ts';
import { FloatQueue } from './float-queue.ts';
import { createHistogram, encodeHistogram, FastRecorder } from './histograms.ts';
import { buildTarget, Connection, codedError, type ResponseHandler } from './http1.ts';
import { TimelineRecorder } from './timeline.ts';
import type { WorkerOptions, WorkerResult } from './types.ts';
import { type ResolvedShard, resolveShard } from './validate.ts';

/** Extra time after the last request's timeout before outstanding requests are given up as timeouts. */
const DRAIN_GRACE_MS = 1000;

/** One connection and the request on it (at most one). Also the connection's response handler. */
class Slot implements ResponseHandler {
  intended = 0;
  measured = false;
  status = 0;
  active = false;
  readonly conn: Connection;

  constructor(readonly engine: Engine) {
    this.conn = new Connection(engine.target, this);
  }

  onStatus(status: number): void {
    this.status = status;
  }

  onBodyBytes(n: number): void {
    if (this.measured) this.engine.bytesReceived += n;
  }

  onComplete(): void {
    this.engine.ended(this, undefined);
  }

  onError(err: Error): void {
    this.engine.ended(this, err);
  }
}

class Engine {
  readonly o: ResolvedShard;
  readonly intervalMs: number;
  readonly tickMs: number;
  readonly warmCount: number;
  readonly endCount: number;
  readonly target: ReturnType<typeof buildTarget>;
  readonly slots: Slot[];
  /** Free slots (a stack: the most recently used connection is the warmest). */
  readonly free: Slot[] = [];
  readonly queue = new FloatQueue();

  t0 = 0;
  measureStart = 0;
  startedAtMs = 0;
  next = 0;
  outstanding = 0;
  measuredOutstanding = 0;
  timerArmed = false;
  stopped = false;
  aborted = false;
  lastDueAt = 0;
  /** Requests [next, blockedEnd) were due in tick `blockedTick` or earlier but found no room. */
  blockedEnd = 0;
  blockedTick = 0;

  readonly latency = new FastRecorder(createHistogram());
  readonly lateness = new FastRecorder(createHistogram());
  readonly timeline = new TimelineRecorder();
  scheduled = 0;
  total = 0;
  ok = 0;
  errors = 0;
  dropped = 0;
  queued = 0;
  sent = 0;
  bytesReceived = 0;
  readonly statusCodes: Record<string, number> = {};
  readonly errorKinds: Record<string, number> = {};

  #timer: NodeJS.Timeout | undefined;
  #progress: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;
  /** Warm-up requests still outstanding (openConnections), and what to call when none are left. */
  #warming = 0;
  #warmed: (() => void) | undefined;
  #resolve: (() => void) | undefined;
  readonly #onTimer = (): void => {
    this.timerArmed = false;
    this.pump(performance.now());
  };

  constructor(
    o: ResolvedShard,
    readonly onProgress: WorkerOptions['onProgress'],
  ) {
    this.o = o;
    this.intervalMs = 1000 / o.rate;
    this.tickMs = o.tickMs;
    this.warmCount = Math.round(o.warmupSec * o.rate);
    this.endCount = this.warmCount + Math.max(1, Math.round(o.durationSec * o.rate));
    this.target = buildTarget(o.url, o.method, o.headers);
    this.slots = [];
    for (let i = 0; i < o.connections; i++) {
      const slot = new Slot(this);
      this.slots.push(slot);
      this.free.push(slot);
    }
  }

  /** Opens every connection with one unrecorded request each, in parallel; failures are ignored. */
  openConnections(): Promise<void> {
    this.startSweep();
    return new Promise<void>((resolve) => {
      this.#warming = this.slots.length;
      this.#warmed = resolve;
      const now = performance.now();
      for (const slot of this.free.splice(0)) this.send(slot, now, false, now);
    });
  }

  /**
   * One timer for every request's timeout: a request outstanding for `timeoutMs` (from when it was handed to its
   * connection, like undici's headers timeout) fails as a timeout and its connection is closed. Checked every
   * timeoutMs / 10 (5-250 ms): a timeout is reported at most that much late.
   */
  startSweep(): void {
    if (this.#sweep !== undefined) return;
    const period = Math.min(250, Math.max(5, Math.floor(this.o.timeoutMs / 10)));
    this.#sweep = setInterval(() => {
      const now = performance.now();
      const limit = this.o.timeoutMs;
      for (const slot of this.slots) {
        if (slot.active && now - slot.conn.sentAt >= limit) {
          slot.conn.destroy(codedError(`no response within ${limit} ms`, 'ETIMEDOUT'));
        }
      }
    }, period);
  }

  run(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      if (signal?.aborted) {
        this.abort();
        return;
      }
      signal?.addEventListener('abort', () => this.abort(), { once: true });
      this.t0 = performance.now();
      this.measureStart = this.intendedAt(this.warmCount);
      this.startedAtMs = Date.now() + (this.measureStart - this.t0);
      this.lastDueAt = this.intendedAt(this.endCount - 1);
      const progressIn = Math.max(0, this.measureStart - this.t0) + 1000;
      this.#progress = setTimeout(() => {
        this.tick();
        this.#progress = setInterval(() => this.tick(), 1000);
      }, progressIn);
      this.#deadline = setTimeout(() => this.giveUp(), this.lastDueAt - this.t0 + this.o.timeoutMs + DRAIN_GRACE_MS);
      this.pump(this.t0);
    });
  }

  /**
   * Intended send time of request `index`: its exact time `index / rate` rounded up to the next scheduler tick.
   * All requests of a tick are sent together (one wake-up), and their latency counts from that tick.
   */
  intendedAt(index: number): number {
    // The epsilon keeps float noise (3.0000000004) from pushing a request to the next tick.
    return this.t0 + Math.ceil((index * this.intervalMs) / this.tickMs - 1e-9) * this.tickMs;
  }

  /** One past the last request index due by the end of tick `tick` (0 before tick 0). */
  dueEndOfTick(tick: number): number {
    if (tick < 0) return 0;
    const end = Math.floor((tick * this.tickMs) / this.intervalMs + 1e-9) + 1;
    return Math.min(end, this.endCount);
  }

  second(now: number): number {
    const s = Math.floor((now - this.measureStart) / 1000);
    return Math.max(s, 0);
  }

  /**
   * Sends (or queues) the requests that are due while there is room under `maxInFlight`; requests of an earlier tick
   * still unsent when a new tick starts are dropped. Then arms the timer for the next tick with work.
   */
  pump(now: number): void {
    if (this.stopped) return;
    if (this.queue.size > 0) this.serveQueue(now);

    if (this.next < this.endCount) {
      const tick = Math.floor((now - this.t0) / this.tickMs + 1e-9);
      const dueEnd = this.dueEndOfTick(tick);
      if (this.next < this.blockedEnd && tick > this.blockedTick) {
        // They fell due with `maxInFlight` requests outstanding, and no room freed before their tick ended: dropped.
        this.drop(this.next, this.blockedEnd - this.next, now);
        this.next = this.blockedEnd;
      }
      const max = this.o.maxInFlight;
      while (this.next < dueEnd && this.outstanding < max) {
        const intended = this.intendedAt(this.next);
        const measured = this.next >= this.warmCount;
        this.next++;
        this.outstanding++;
        if (measured) {
          this.scheduled++;
          this.measuredOutstanding++;
          this.lateness.record(Math.round((now - intended) * 1000));
        }
        const slot = this.free.pop();
        if (slot !== undefined) {
          this.send(slot, intended, measured, now);
        } else {
          this.queue.push(intended);
          if (measured) this.queued++;
        }
      }
      if (this.next < dueEnd) {
        this.blockedEnd = dueEnd;
        this.blockedTick = tick;
      }
      if (this.next < this.endCount) {
        if (!this.timerArmed) {
          this.timerArmed = true;
          // Unsent requests of this tick wait for completions (which pump) or the next tick (which drops them).
          const wakeAt = this.next < dueEnd ? this.t0 + (tick + 1) * this.tickMs : this.intendedAt(this.next);
          const wait = wakeAt - now;
          this.#timer = setTimeout(this.#onTimer, Math.max(wait, 1));
        }
        return;
      }
    }
    if (this.outstanding === 0) this.finish();
  }

  /** Gives free connections to queued requests, oldest first; a request queued longer than the timeout fails. */
  serveQueue(now: number): void {
    while (this.queue.size > 0 && this.free.length > 0) {
      const intended = this.queue.shift();
      const measured = intended >= this.measureStart;
      if (now - intended > this.o.timeoutMs) {
        this.outstanding--;
        if (measured) this.fail(now, intended, 'timeout');
        continue;
      }
      const slot = this.free.pop();
      if (slot !== undefined) this.send(slot, intended, measured, now);
    }
  }

  drop(firstIndex: number, n: number, now: number): void {
    const firstMeasured = Math.max(firstIndex, this.warmCount);
    const measured = firstIndex + n - firstMeasured;
    if (measured > 0) {
      this.dropped += measured;
      this.scheduled += measured;
      this.timeline.dropped(this.second(now), measured);
    }
  }

  send(slot: Slot, intended: number, measured: boolean, now: number): void {
    slot.intended = intended;
    slot.measured = measured;
    slot.status = 0;
    slot.active = true;
    if (measured) {
      this.sent++;
      this.timeline.sent(this.second(now));
    }
    slot.conn.send(now);
  }

  /** A request on `slot` ended: a response (err undefined) or a failure. */
  ended(slot: Slot, err: Error | undefined): void {
    if (!slot.active) return;
    slot.active = false;
    if (this.#warming > 0) {
      this.free.push(slot);
      if (--this.#warming === 0) this.#warmed?.();
      return;
    }
    if (this.stopped) return;
    const now = performance.now();
    this.outstanding--;
    if (slot.measured) {
      if (err === undefined) {
        const status = slot.status;
        this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
        const kind = classifyStatus(status);
        const latencyUs = Math.round((now - slot.intended) * 1000);
        this.latency.record(latencyUs);
        this.measuredOutstanding--;
        this.total++;
        if (kind === undefined) {
          this.ok++;
          this.timeline.completed(this.second(now), false, latencyUs);
        } else {
          this.errors++;
          this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
          this.timeline.completed(this.second(now), true, latencyUs);
        }
      } else {
        this.fail(now, slot.intended, classifyError(err));
      }
    }
    this.free.push(slot);
    this.pump(now);
  }

  /** Counts a measured request as failed; timeouts keep their latency (a lower bound), connection errors have none. */
  fail(now: number, intended: number, kind: string): void {
    this.measuredOutstanding--;
    this.total++;
    this.errors++;
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    let latencyUs = -1;
    if (kind === 'timeout') {
      latencyUs = Math.round((now - intended) * 1000);
      this.latency.record(latencyUs);
    }
    this.timeline.completed(this.second(now), true, latencyUs);
  }

  tick(): void {
    const now = performance.now();
    // Node's timers start from the loop's cached clock, so this tick may fire a hair before the second ends.
    this.timeline.rollTo(Math.round((now - this.measureStart) / 1000));
    this.onProgress?.({
      workerIndex: this.o.workerIndex,
      elapsedSec: Math.round((now - this.measureStart) / 100) / 10,
      durationSec: this.o.durationSec,
      sent: this.sent,
      completed: this.total,
      errors: this.errors,
      dropped: this.dropped,
      inFlight: this.outstanding,
      p99Ms: this.timeline.lastP99Us / 1000,
    });
  }

  /** The drain deadline passed: whatever is still outstanding is a timeout. */
  giveUp(): void {
    if (this.stopped) return;
    const now = performance.now();
    while (this.queue.size > 0) {
      const intended = this.queue.shift();
      if (intended >= this.measureStart) this.fail(now, intended, 'timeout');
    }
    for (const slot of this.slots) {
      if (slot.active && slot.measured) this.fail(now, slot.intended, 'timeout');
    }
    this.finish();
  }

  abort(): void {
    if (this.stopped) return;
    this.aborted = true;
    // Requests still outstanding never ended: they leave the books rather than count as errors.
    this.scheduled -= this.measuredOutstanding;
    this.finish();
  }

  finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#progress);
    clearInterval(this.#progress);
    clearTimeout(this.#deadline);
    clearInterval(this.#sweep);
    this.queue.clear();
    this.#resolve?.();
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const slot of this.slots) slot.conn.destroy(undefined);
  }

  result(): WorkerResult {
    const measuredEnd = this.stopped ? performance.now() : this.measureStart;
    const o = this.o;
    return {
      schema: 'rollgate.loadtest.worker.v1',
      workerIndex: o.workerIndex,
      url: o.url.href,
      method: o.method,
      startedAt: new Date(this.startedAtMs || Date.now()).toISOString(),
      durationSec: o.durationSec,
      elapsedSec: Math.max(0, Math.round(measuredEnd - this.measureStart) / 1000),
      connections: o.connections,
      maxInFlight: o.maxInFlight,
      timeoutMs: o.timeoutMs,
      rate: { target: o.rate, achieved: Math.round((this.sent / o.durationSec) * 100) / 100 },
      requests: {
        scheduled: this.scheduled,
        total: this.total,
        ok: this.ok,
        errors: this.errors,
        dropped: this.dropped,
        queued: this.queued,
      },
      statusCodes: { ...this.statusCodes },
      errorKinds: { ...this.errorKinds },
      bytesReceived: this.bytesReceived,
      histograms: {
        latencyUs: encodeHistogram(this.latency.flush()),
        latenessUs: encodeHistogram(this.lateness.flush()),
      },
      timeline: this.timeline.toJSON(),
      aborted: this.aborted,
    };
  }
}

/**
 * Runs one load generator: opens every connection, runs `warmupSec` unrecorded, then `durationSec` measured at `rate`
 * requests per second, waits for outstanding requests (each bounded by `timeoutMs`), and returns plain JSON.
 *
 * Latency is recorded for every response of any status and for timeouts (as the time until the timeout, a lower
 * bound); connection errors (refused, reset) are counted but have no latency. Statuses >= 400 are errors.
 *
 * @throws LoadInputError when an option is invalid (the message names it).
 */
export async function runWorker(opts: WorkerOptions): Promise<WorkerResult> {
  const shard = resolveShard(opts);
  const engine = new Engine(shard, opts.onProgress);
  try {
    if (!opts.signal?.aborted) await engine.openConnections();
    await engine.run(opts.signal);
    return engine.result();
  } finally {
    engine.close();
  }
}
