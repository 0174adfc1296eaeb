/** Per-second counters and p99 of one worker's measured window. */
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, FastRecorder } from './histograms.ts';
import type { WorkerTimeline } from './types.ts';

function bump(column: number[], second: number, n: number): void {
  while (column.length <= second) column.push(0);
  column[second] = (column[second] ?? 0) + n;
}

export class TimelineRecorder {
  readonly #sent: number[] = [];
  readonly #completed: number[] = [];
  readonly #errors: number[] = [];
  readonly #dropped: number[] = [];
  readonly #p99Us: number[] = [];
  /** Latencies of the second being filled; reset when the next second starts. */
  readonly #current: Histogram = createHistogram();
  readonly #recorder = new FastRecorder(this.#current);
  #currentSecond = 0;
  #lastP99Us = 0;

  sent(second: number): void {
    bump(this.#sent, second, 1);
  }

  dropped(second: number, n: number): void {
    bump(this.#dropped, second, n);
  }

  /** A request ended in `second`; `latencyUs` < 0 when it has no latency (a connection error). */
  completed(second: number, isError: boolean, latencyUs: number): void {
    if (second !== this.#currentSecond) this.rollTo(second);
    bump(this.#completed, second, 1);
    if (isError) bump(this.#errors, second, 1);
    if (latencyUs >= 0) this.#recorder.record(latencyUs);
  }

  /** Closes every second before `second` (called on completions and by the 1 s progress tick). */
  rollTo(second: number): void {
    if (second <= this.#currentSecond) return;
    this.#recorder.flush();
    const p99 = this.#current.totalCount > 0 ? this.#current.getValueAtPercentile(99) : 0;
    bump(this.#p99Us, this.#currentSecond, p99);
    this.#lastP99Us = p99;
    this.#current.reset();
    this.#currentSecond = second;
  }

  /** p99 of the last closed second, microseconds. */
  get lastP99Us(): number {
    return this.#lastP99Us;
  }

  toJSON(): WorkerTimeline {
    this.rollTo(this.#currentSecond + 1);
    const length = Math.max(
      this.#sent.length,
      this.#completed.length,
      this.#errors.length,
      this.#dropped.length,
      this.#p99Us.length,
    );
    const pad = (column: number[]): number[] => {
      const out = column.slice();
      while (out.length < length) out.push(0);
      return out;
    };
    return {
      sent: pad(this.#sent),
      completed: pad(this.#completed),
      errors: pad(this.#errors),
      dropped: pad(this.#dropped),
      p99Us: pad(this.#p99Us),
    };
  }
}
