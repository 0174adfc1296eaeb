/** A connection of the load generator and the request on it (at most one), and the timeout sweep over them. */
import { Connection, codedError, type ResponseHandler, type Target } from './http1.ts';

/** What a slot reports to: the engine. */
export interface SlotOwner {
  readonly target: Target;
  bytesReceived: number;
  /** A request on `slot` ended: a response (err undefined) or a failure. */
  ended(slot: Slot, err: Error | undefined, now: number): void;
}

/** One connection and the request on it (at most one). Also the connection's response handler. */
export class Slot implements ResponseHandler {
  /** What the request's latency counts from: min(sent, scheduled), performance.now() ms. */
  latencyFrom = 0;
  measured = false;
  status = 0;
  active = false;
  readonly conn: Connection;

  constructor(readonly engine: SlotOwner) {
    this.conn = new Connection(engine.target, this);
  }

  onStatus(status: number): void {
    this.status = status;
  }

  onBodyBytes(n: number): void {
    if (this.measured) this.engine.bytesReceived += n;
  }

  onComplete(now: number): void {
    this.engine.ended(this, undefined, now);
  }

  onError(err: Error): void {
    this.engine.ended(this, err, performance.now());
  }
}

/**
 * Fails every request outstanding for `limitMs` or longer (from when it was handed to its connection, like undici's
 * headers timeout) as a timeout, closing its connection.
 */
export function timeOut(slots: readonly Slot[], limitMs: number, now: number): void {
  for (const slot of slots) {
    if (slot.active && now - slot.conn.sentAt >= limitMs) {
      slot.conn.destroy(codedError(`no response within ${limitMs} ms`, 'ETIMEDOUT'));
    }
  }
}
