import type { ExecutionEvent } from '../local/state-machine.ts';
import { printable } from '../src/core/text.ts';
import type { Io } from './io.ts';

/** Small terminal helpers every command prints with: tables, durations, colour only on a TTY. */

const useColour = process.stdout.isTTY && !process.env.NO_COLOR;

export const colour = {
  green: (s: string) => (useColour ? `\x1b[32m${s}\x1b[0m` : s),
  red: (s: string) => (useColour ? `\x1b[31m${s}\x1b[0m` : s),
  yellow: (s: string) => (useColour ? `\x1b[33m${s}\x1b[0m` : s),
  dim: (s: string) => (useColour ? `\x1b[2m${s}\x1b[0m` : s),
  bold: (s: string) => (useColour ? `\x1b[1m${s}\x1b[0m` : s),
};

/** The longest line a message prints whole; longer ones (a 5 MB flag value) are cut, their length said. */
const MAX_LINE = 1000;

/**
 * Text from outside (a flag, a file name, a reason recorded from an AWS error) as the CLI prints it: control
 * characters escaped (`\u001b`), never raw on the terminal, and each line cut to MAX_LINE characters.
 */
export function safeText(text: string): string {
  return printable(text)
    .split('\n')
    .map((l) => (l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)}… (${l.length} characters)` : l))
    .join('\n');
}

/** `12.3 s`, `1 min 05 s`. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** A plain-text table; long cells in `wrap` columns are cut to `maxWidth`. */
export function table(headers: string[], rows: string[][], maxWidth = 70): string {
  const cut = (raw: string) => {
    const s = printable(raw).replace(/\n/g, ' ');
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const cells = rows.map((r) => r.map(cut));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function outcomeColour(outcome: string): string {
  if (outcome === 'DEPLOYED') return colour.green(outcome);
  if (outcome === 'IGNORED') return colour.dim(outcome);
  if (outcome === 'ROLLED_BACK') return colour.yellow(outcome);
  return colour.red(outcome);
}

/** Progress on stderr: one line per Task or Wait state entered, with the time since the execution started. */
export function progressPrinter(io: Io, label: string, quiet: boolean): (e: ExecutionEvent) => void {
  let start: number | undefined;
  return (e) => {
    if (quiet) return;
    const t = Date.parse(e.timestamp);
    start ??= t;
    // the work (Task, Wait, Map) and the end; not the Choice and Pass states that only route
    if (e.type === 'StateEntered' && e.state && e.stateType !== 'Choice' && e.stateType !== 'Pass') {
      io.stderr(colour.dim(`  ${label} ${duration(t - start).padStart(8)}  ${e.state}\n`));
    } else if (e.type === 'StateRetried' && e.state) {
      io.stderr(colour.yellow(`  ${label} ${duration(t - start).padStart(8)}  ${e.state} retried\n`));
    }
  };
}
