import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { choiceOf, interruptHandler, QUESTION, readKey } from '../../cli/interrupt.ts';

/** Ctrl-C and SIGTERM during a local run: the decisions of the CLI's signal handler (cli/interrupt.ts). */
function harness(ask?: (question: string) => Promise<string>) {
  const stops: string[] = [];
  const said: string[] = [];
  const onSignal = interruptHandler({
    stop: (signal) => stops.push(signal),
    say: (text) => said.push(text),
    ...(ask ? { ask } : {}),
  });
  return { stops, said, onSignal };
}

/** A question answered when the test says (`answer`), recording what was asked. */
function pending() {
  const asked: string[] = [];
  let answer: (key: string) => void = () => undefined;
  const ask = (question: string) => {
    asked.push(question);
    return new Promise<string>((resolve) => {
      answer = resolve;
    });
  };
  return { asked, ask, answer: (key: string) => answer(key) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Ctrl-C and SIGTERM during a local run', () => {
  it('without a terminal: Ctrl-C rolls back and exits at once (130), as SIGTERM does (143)', () => {
    const h = harness();
    h.onSignal('SIGINT');
    expect(h.stops).toEqual(['SIGINT']);
    const t = harness();
    t.onSignal('SIGTERM');
    expect(t.stops).toEqual(['SIGTERM']);
  });

  it('on a terminal, Ctrl-C asks first; r (or Enter, or Ctrl-C again as a key) rolls back', async () => {
    for (const key of ['r', '\r', '\u0003', 'x']) {
      const q = pending();
      const h = harness(q.ask);
      h.onSignal('SIGINT');
      expect(q.asked).toEqual([QUESTION]);
      expect(h.stops).toEqual([]);
      q.answer(key);
      await tick();
      expect(h.stops, JSON.stringify(key)).toEqual(['SIGINT']);
    }
  });

  it('f lets the execution finish; Ctrl-C again then rolls back without asking again', async () => {
    const q = pending();
    const h = harness(q.ask);
    h.onSignal('SIGINT');
    q.answer('f');
    await tick();
    expect(h.stops).toEqual([]);
    expect(h.said.join('')).toContain('the execution goes on to its end (Ctrl-C again rolls it back now)');
    h.onSignal('SIGINT');
    expect(h.stops).toEqual(['SIGINT']);
    expect(q.asked).toHaveLength(1);
  });

  it('SIGTERM never asks, even while the question waits; a signal while stopping only says so', async () => {
    const q = pending();
    const h = harness(q.ask);
    h.onSignal('SIGTERM');
    expect(q.asked).toEqual([]);
    expect(h.stops).toEqual(['SIGTERM']);
    h.onSignal('SIGINT');
    expect(h.stops).toEqual(['SIGTERM']);
    expect(h.said.at(-1)).toContain('still resolving the interrupted execution');

    const w = pending();
    const g = harness(w.ask);
    g.onSignal('SIGINT');
    g.onSignal('SIGTERM');
    expect(g.stops).toEqual(['SIGTERM']);
    w.answer('f'); // answered too late: stopping already
    await tick();
    expect(g.stops).toEqual(['SIGTERM']);
  });

  it('reads one key in raw mode and restores the terminal', async () => {
    const modes: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), {
      isRaw: false,
      setRawMode(mode: boolean) {
        modes.push(mode);
        this.isRaw = mode;
        return this;
      },
    });
    const key = readKey(stdin as unknown as NodeJS.ReadStream);
    stdin.write('f');
    expect(await key).toBe('f');
    expect(modes).toEqual([true, false]);
    expect(choiceOf('F')).toBe('finish');
    expect(choiceOf('')).toBe('rollback');
  });
});
