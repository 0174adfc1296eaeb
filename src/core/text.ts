/**
 * Text that came from outside (an event, a config value, a file name, a parser's message quoting its input) made
 * safe to show on a terminal or in a log line: control characters never reach the terminal raw, long values are cut.
 * Every message that quotes a value it was given goes through here.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls, and the invisible or reordering format characters (zero-width,
 * bidi embedding/override/isolate, line/paragraph separators, BOM) that can hide or rearrange what a reader sees.
 */
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/**
 * `text` with each unprintable character written as a `\uXXXX` escape (`\u001b`, `\u202e`); tabs and newlines kept.
 * The escape is JSON's own, so printable JSON text still parses to the same value.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The longest value a message quotes in full; longer ones are cut (a 5 MB value is not echoed to stderr). */
export const PREVIEW_CHARS = 80;

/**
 * A value as a message quotes it: JSON (strings in quotes, escapes for control characters), unprintable characters
 * escaped, cut to `max` characters with the full length said: `"aaaa…" (5242880 characters)`.
 */
export function preview(value: unknown, max: number = PREVIEW_CHARS): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  const shown = printable(json);
  if (shown.length <= max) return shown;
  const length = typeof value === 'string' ? value.length : json.length;
  return `${shown.slice(0, max)}…${typeof value === 'string' ? '"' : ''} (${length} characters)`;
}

/** A one-line message part from outside text: unprintable characters escaped, newlines too, cut to `max`. */
export function oneLine(text: string, max: number = 200): string {
  const flat = printable(text).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return flat.length <= max ? flat : `${flat.slice(0, max)}… (${text.length} characters)`;
}
