/** A growable FIFO ring of numbers (intended send times of requests waiting for a free connection). */
export class FloatQueue {
  #buf = new Float64Array(64);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(value: number): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) % this.#buf.length] = value;
    this.#size++;
  }

  /** The oldest value without removing it; NaN when empty. */
  peek(): number {
    return this.#size === 0 ? Number.NaN : (this.#buf[this.#head] ?? Number.NaN);
  }

  /** Removes and returns the oldest value; NaN when empty. */
  shift(): number {
    if (this.#size === 0) return Number.NaN;
    const value = this.#buf[this.#head] ?? Number.NaN;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#size--;
    return value;
  }

  clear(): void {
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const next = new Float64Array(this.#buf.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length] ?? 0;
    this.#buf = next;
    this.#head = 0;
  }
}
