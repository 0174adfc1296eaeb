/**
 * The load generator engine: an open-model (constant arrival rate) HTTP load generator.
 *
 * - Request i is scheduled at `t0 + i / rate`. Time is cut into scheduler ticks (`tickMs`); one timer wake-up at the
 *   start of a tick releases every request scheduled within that tick, so the generator wakes once per tick rather than
 *   once per request. A released request goes to a free connection at once, or waits for the next one to free up.
 * - Latency counts from `min(sent, scheduled)`: a request sent ahead of its schedule (released early in its tick)
 *   counts from when it was written; one sent after its schedule (the generator woke late, or every connection was
 *   busy) counts from its schedule. So a stalled target cannot slow the generator down and hide its own stall
 *   (coordinated omission; as wrk2 and k6's constant-arrival-rate executor do), and the generator's own batching never
 *   adds to a latency either. The schedule is honoured to within one tick: no request goes out more than `tickMs` (plus
 *   at most 1 ms of timer slack) early.
 * - Released requests wait for a connection in a FIFO queue while fewer than `maxInFlight` are outstanding. Requests
 *   that found no room and whose tick ended are counted as dropped, never silently skipped.
 * - Connections on demand: `connections` are opened before the run; when a request is due (its scheduled time has come)
 *   and every connection is busy, another is opened for it, up to `maxConnections` (a due-timer wakes the generator for
 *   a queued request that falls due between completions). Requests released ahead of their schedule never open one,
 *   and go out early only while fewer than `connections` are busy: the connections opened on demand carry requests at
 *   their scheduled times, so the target sees the even schedule, not bursts of a whole tick at once. With a fixed set
 *   of connections (`maxConnections` = `connections`, or before any has been added) this is the tick path unchanged.
 *   Once `maxConnections` are open and busy, a request's wait for a connection is the generator's limit, not the
 *   target's latency: it goes to its own histogram (`connectionWaitUs`), its latency counts from when it was sent, and
 *   the report calls the run generator-limited. A request that waited longer than the timeout is dropped (never sent).
 * - How late the scheduler released each request (after the start of its tick) goes to its own histogram: if that is
 *   high, the generator (CPU, event loop) was the bottleneck, not the target.
 * - Keep-alive connections, at most one request in flight on each, through the minimal HTTP/1.1
 *   client in http1.ts (the request bytes are built once; responses are parsed in place). Per request it costs about
 *   a third of undici's CPU, which matters most at moderate rates (bench/loadgen.ts).
 * - Per-request timeouts: one sweep timer checks every connection's deadline (no timer per request).
 */
import { performance } from 'node:perf_hooks';
import { classifyError, classifyStatus } from './classify-error.ts';
import { FloatQueue } from './float-queue.ts';
import { createHistogram, FastRecorder } from './histograms.ts';
import { buildTarget } from './http1.ts';
import { Slot, type SlotOwner, timeOut } from './slot.ts';
import { TimelineRecorder } from './timeline.ts';
import type { WorkerOptions, WorkerResult } from './types.ts';
import { type ResolvedShard, resolveShard } from './validate.ts';
import { workerResult } from './worker-result.ts';

/** Extra time after the last request's timeout before outstanding requests are given up as timeouts. */
const DRAIN_GRACE_MS = 1000;
/**
 * How early a wake-up may still count as the start of the next tick. Node's timers work in whole milliseconds of a
 * loop clock that lags (a 49.7 ms timeout armed at 1000.9 ms may fire at 1049.9 ms), so without this 44% of tick
 * timers fired just before their tick at 1000 req/s, released nothing and re-armed: two cold wake-ups for one tick.
 * Releasing a tick up to 1 ms early costs nothing in latency (it counts from min(sent, scheduled)).
 */
const MAX_TIMER_SLACK_MS = 1;

export class Engine implements SlotOwner {
  readonly o: ResolvedShard;
  readonly intervalMs: number;
  readonly tickMs: number;
  /** Up to this long before a tick starts, the tick counts as started (see MAX_TIMER_SLACK_MS). */
  readonly slackMs: number;
  readonly warmCount: number;
  readonly endCount: number;
  readonly target: ReturnType<typeof buildTarget>;
  readonly maxConnections: number;
  /** Every connection opened so far (they are never removed: a closed one reconnects on its next request). */
  readonly slots: Slot[];
  /** Free slots: a stack in `free[0, freeCount)` (the most recently used connection is the warmest). */
  readonly free: Slot[];
  freeCount = 0;
  readonly queue = new FloatQueue();

  t0 = 0;
  measureStart = 0;
  startedAtMs = 0;
  next = 0;
  outstanding = 0;
  measuredOutstanding = 0;
  timerArmed = false;
  dueArmed = false;
  stopped = false;
  aborted = false;
  lastDueAt = 0;
  /** How many requests have been released (their lateness recorded): [0, released). */
  released = 0;
  /** Requests [next, blockedEnd) were released in tick `blockedTick` or earlier but found no room. */
  blockedEnd = 0;
  blockedTick = 0;

  readonly latency = new FastRecorder(createHistogram());
  readonly lateness = new FastRecorder(createHistogram());
  /** How long requests waited for a connection past their schedule with `maxConnections` open and busy, us. */
  readonly connectionWait = new FastRecorder(createHistogram());
  readonly timeline = new TimelineRecorder();
  scheduled = 0;
  total = 0;
  ok = 0;
  errors = 0;
  dropped = 0;
  queued = 0;
  waited = 0;
  sent = 0;
  bytesReceived = 0;
  /** Responses by status code (100-999, the three digits the parser accepts), as an array: no object keyed by number. */
  readonly statusCounts = new Uint32Array(1000);
  readonly errorKinds: Record<string, number> = {};

  #timer: NodeJS.Timeout | undefined;
  #dueTimer: NodeJS.Timeout | undefined;
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
  readonly #onDue = (): void => {
    this.dueArmed = false;
    this.pump(performance.now());
  };

  constructor(
    o: ResolvedShard,
    readonly onProgress: WorkerOptions['onProgress'],
  ) {
    this.o = o;
    this.intervalMs = 1000 / o.rate;
    this.tickMs = o.tickMs;
    this.slackMs = Math.min(MAX_TIMER_SLACK_MS, o.tickMs / 4);
    this.warmCount = Math.round(o.warmupSec * o.rate);
    this.endCount = this.warmCount + Math.max(1, Math.round(o.durationSec * o.rate));
    this.target = buildTarget(o.url, o.method, o.headers);
    this.maxConnections = o.maxConnections;
    this.slots = [];
    for (let i = 0; i < o.connections; i++) this.slots.push(new Slot(this));
    this.free = this.slots.slice();
    this.freeCount = this.free.length;
  }

  /** Opens every connection with one unrecorded request each, in parallel; failures are ignored. */
  openConnections(): Promise<void> {
    this.startSweep();
    return new Promise<void>((resolve) => {
      this.#warming = this.slots.length;
      this.#warmed = resolve;
      const now = performance.now();
      this.freeCount = 0;
      for (const slot of this.slots) this.send(slot, now, false, now);
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
    this.#sweep = setInterval(() => timeOut(this.slots, this.o.timeoutMs, performance.now()), period);
  }

  run(signal: AbortSignal | undefined, t0 = performance.now()): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      if (signal?.aborted) {
        this.abort();
        return;
      }
      signal?.addEventListener('abort', () => this.abort(), { once: true });
      this.t0 = t0;
      this.measureStart = this.scheduledAt(this.warmCount);
      this.startedAtMs = Date.now() + (this.measureStart - this.t0);
      this.lastDueAt = this.scheduledAt(this.endCount - 1);
      const progressIn = Math.max(0, this.measureStart - this.t0) + 1000;
      this.#progress = setTimeout(() => {
        this.tick();
        this.#progress = setInterval(() => this.tick(), 1000);
      }, progressIn);
      this.#deadline = setTimeout(() => this.giveUp(), this.lastDueAt - this.t0 + this.o.timeoutMs + DRAIN_GRACE_MS);
      this.pump(this.t0);
    });
  }

  /** Scheduled time of request `index`: `t0 + index / rate`, performance.now() ms. */
  scheduledAt(index: number): number {
    return this.t0 + index * this.intervalMs;
  }

  /** The tick in which request `index` is released: the one its scheduled time falls in. */
  releaseTick(index: number): number {
    // The epsilon keeps float noise (2.9999999996) from pulling a request back into the previous tick.
    return Math.floor((index * this.intervalMs) / this.tickMs + 1e-9);
  }

  /** One past the last request released by the end of tick `tick` (0 before tick 0). */
  releasedBy(tick: number): number {
    if (tick < 0) return 0;
    // A first guess from the rate, then settled against releaseTick so the two can never disagree.
    let end = Math.min(this.endCount, Math.ceil(((tick + 1) * this.tickMs) / this.intervalMs));
    while (end > 0 && this.releaseTick(end - 1) > tick) end--;
    while (end < this.endCount && this.releaseTick(end) <= tick) end++;
    return end;
  }

  second(now: number): number {
    const s = Math.floor((now - this.measureStart) / 1000);
    return Math.max(s, 0);
  }

  /**
   * Sends (or queues) the requests released by now while there is room under `maxInFlight`; requests of an earlier
   * tick still without room when a new tick starts are dropped. Then arms the timer for the next tick with work.
   */
  pump(now: number): void {
    if (this.stopped) return;
    if (this.queue.size > 0) this.serveQueue(now);

    if (this.next < this.endCount) {
      const tick = Math.floor((now - this.t0 + this.slackMs) / this.tickMs + 1e-9);
      const releasedEnd = this.releasedBy(tick);
      if (releasedEnd > this.released) this.release(releasedEnd, now);
      if (this.next < this.blockedEnd && tick > this.blockedTick) {
        // Released with `maxInFlight` requests outstanding, and no room freed before their tick ended: dropped.
        this.drop(this.next, this.blockedEnd - this.next, now);
        this.next = this.blockedEnd;
      }
      const max = this.o.maxInFlight;
      while (this.next < releasedEnd && this.outstanding < max) {
        const scheduled = this.scheduledAt(this.next);
        const measured = this.next >= this.warmCount;
        if (measured) {
          this.scheduled++;
          this.measuredOutstanding++;
        }
        this.next++;
        this.outstanding++;
        if (this.freeCount > 0 && (this.slots.length - this.freeCount < this.o.connections || scheduled <= now)) {
          this.send(this.popFree(), Math.min(now, scheduled), measured, now);
        } else if (scheduled <= now && this.slots.length < this.maxConnections) {
          this.send(this.openSlot(), scheduled, measured, now);
        } else this.queue.push(scheduled);
      }
      if (this.next < releasedEnd) {
        this.blockedEnd = releasedEnd;
        this.blockedTick = tick;
      }
      if (this.queue.size > 0 && !this.dueArmed) this.armDue(now);
      if (this.next < this.endCount) {
        if (!this.timerArmed) {
          this.timerArmed = true;
          // Requests without room wait for completions (which pump) or the next tick (which drops them).
          const wakeTick = this.next < releasedEnd ? tick + 1 : this.releaseTick(this.next);
          const wait = this.t0 + wakeTick * this.tickMs - now;
          this.#timer = setTimeout(this.#onTimer, Math.max(wait, 1));
        }
        return;
      }
    }
    if (this.outstanding === 0) this.finish();
  }

  /**
   * Releases requests [this.released, end): records how late the scheduler released them, per tick (after its start,
   * timer slack aside). A request that then waits for room under `maxInFlight` or for a connection waits on the target,
   * not on the scheduler, so that wait is not lateness.
   */
  release(end: number, now: number): void {
    let i = Math.max(this.released, this.warmCount);
    while (i < end) {
      const tick = this.releaseTick(i);
      const tickEnd = Math.min(end, this.releasedBy(tick));
      const late = now - (this.t0 + tick * this.tickMs);
      this.lateness.record(late > 0 ? Math.round(late * 1000) : 0, tickEnd - i);
      i = tickEnd;
    }
    this.released = end;
  }

  /**
   * Gives connections to queued requests, oldest first: free ones, or, for a request that is due, a new one while fewer
   * than `maxConnections` are open. A request that leaves the queue after its scheduled time waited for a connection:
   * below the maximum that wait is part of its latency (`queued`; it lasts until the next completion or due-timer);
   * with every allowed connection open and busy it is the generator's limit (`waited`, `connectionWaitUs`) and its
   * latency counts from when it is sent. One that waited longer than the timeout is dropped: it was never sent.
   */
  serveQueue(now: number): void {
    const queue = this.queue;
    while (queue.size > 0) {
      const scheduled = queue.peek();
      const due = scheduled <= now + this.slackMs;
      let slot: Slot;
      if (this.freeCount > 0 && (due || this.slots.length - this.freeCount < this.o.connections)) slot = this.popFree();
      else if (due && this.slots.length < this.maxConnections) slot = this.openSlot();
      else break;
      queue.shift();
      const measured = scheduled >= this.measureStart;
      if (now - scheduled > this.o.timeoutMs) {
        this.pushFree(slot);
        this.outstanding--;
        if (measured) this.dropWaited(now);
        continue;
      }
      let latencyFrom = Math.min(now, scheduled);
      if (now > scheduled && measured) {
        if (this.slots.length >= this.maxConnections) {
          this.waited++;
          this.connectionWait.record(Math.round((now - scheduled) * 1000));
          latencyFrom = now;
        } else this.queued++;
      }
      this.send(slot, latencyFrom, measured, now);
    }
    if (queue.size > 0 && !this.dueArmed) this.armDue(now);
  }

  /**
   * Wakes the generator when the oldest queued request falls due, if a connection could then take it (a free one, or
   * room for another). With every allowed connection busy, the next completion serves the queue instead. Completions
   * serve due requests in between anyway, so with enough connections the queue is empty by then and the one wake-up
   * a tick costs is all the timer adds.
   */
  armDue(now: number): void {
    if (this.freeCount === 0 && this.slots.length >= this.maxConnections) return;
    this.dueArmed = true;
    this.#dueTimer = setTimeout(this.#onDue, Math.max(this.queue.peek() - now, 1));
  }

  /** Opens one more connection (it connects on its first request). */
  openSlot(): Slot {
    const slot = new Slot(this);
    this.slots.push(slot);
    return slot;
  }

  /** A measured request waited for a connection past the timeout: dropped, never sent. */
  dropWaited(now: number): void {
    this.measuredOutstanding--;
    this.dropped++;
    this.timeline.dropped(this.second(now), 1);
  }

  popFree(): Slot {
    return this.free[--this.freeCount] as Slot;
  }

  pushFree(slot: Slot): void {
    this.free[this.freeCount++] = slot;
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

  send(slot: Slot, latencyFrom: number, measured: boolean, now: number): void {
    slot.latencyFrom = latencyFrom;
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
  ended(slot: Slot, err: Error | undefined, now: number): void {
    if (!slot.active) return;
    slot.active = false;
    if (this.#warming > 0) {
      this.pushFree(slot);
      if (--this.#warming === 0) this.#warmed?.();
      return;
    }
    if (this.stopped) return;
    this.outstanding--;
    if (slot.measured) {
      if (err === undefined) {
        const status = slot.status;
        this.statusCounts[status] = (this.statusCounts[status] as number) + 1;
        const kind = classifyStatus(status);
        const latencyUs = Math.round((now - slot.latencyFrom) * 1000);
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
        this.fail(now, classifyError(err));
      }
    }
    this.pushFree(slot);
    this.pump(now);
  }

  /**
   * Counts a measured request as failed. A failure has no latency: latency is of answered requests only, so a run in
   * which every request timed out has an empty latency histogram (and fails the gate on its errors, loadgen/slo.ts).
   */
  fail(now: number, kind: string): void {
    this.measuredOutstanding--;
    this.total++;
    this.errors++;
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    this.timeline.completed(this.second(now), true, -1);
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
      connections: this.slots.length,
      p99Ms: this.timeline.lastP99Us / 1000,
    });
  }

  /** The drain deadline passed: whatever is still outstanding is a timeout. */
  giveUp(): void {
    if (this.stopped) return;
    const now = performance.now();
    while (this.queue.size > 0) {
      // Never sent: the generator's loss, not the target's error.
      if (this.queue.shift() >= this.measureStart) this.dropWaited(now);
    }
    for (const slot of this.slots) {
      if (slot.active && slot.measured) this.fail(now, 'timeout');
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
    clearTimeout(this.#dueTimer);
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
}

/**
 * Runs one load generator: opens every connection, runs `warmupSec` unrecorded, then `durationSec` measured at `rate`
 * requests per second, waits for outstanding requests (each bounded by `timeoutMs`), and returns plain JSON.
 *
 * Latency is recorded for every answered request (a response of any status); failures (timeouts, refused or reset
 * connections) are counted as errors by kind but have no latency. Statuses >= 400 are errors.
 *
 * @throws LoadInputError when an option is invalid (the message names it).
 */
export async function runWorker(opts: WorkerOptions): Promise<WorkerResult> {
  const shard = resolveShard(opts);
  const engine = new Engine(shard, opts.onProgress);
  try {
    if (!opts.signal?.aborted) await engine.openConnections();
    await engine.run(opts.signal);
    return workerResult(engine);
  } finally {
    engine.close();
  }
}
