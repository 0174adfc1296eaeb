/**
 * Persistence of the local ECS state (and the local CodeDeploy's, with its own kind): one JSON file, written
 * atomically (temp file + rename) after every change. Writes are coalesced: while one is in flight, further changes
 * mark the state dirty and one more write follows.
 */
import { readFile } from 'node:fs/promises';
import { oneLine } from '../../src/core/text.ts';
import { writeJsonAtomic } from '../registry.ts';
import type { EcsState } from './model.ts';

/** What a state file holds: its schema, its name in messages, and the shape check of a loaded one. */
export interface StateKind<S> {
  readonly schema: string;
  /** `local ECS`, `local CodeDeploy`. */
  readonly what: string;
  readonly valid: (parsed: Partial<S>) => boolean;
}

const ECS_STATE: StateKind<EcsState> = {
  schema: 'rollgate.local-ecs.v1',
  what: 'local ECS',
  valid: (p) => typeof p.clusters === 'object',
};

export class StateStore<S extends { schema: string } = EcsState> {
  readonly file: string;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #snapshot: () => S;
  #onError: (error: unknown) => void;
  #kind: StateKind<S>;

  constructor(
    file: string,
    snapshot: () => S,
    onError: (error: unknown) => void,
    kind: StateKind<S> = ECS_STATE as unknown as StateKind<S>,
  ) {
    this.file = file;
    this.#snapshot = snapshot;
    this.#onError = onError;
    this.#kind = kind;
  }

  /** The persisted state, or undefined when there is none yet. Throws on a corrupt file, naming it. */
  async load(): Promise<S | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const { schema, what } = this.#kind;
    let parsed: Partial<S>;
    try {
      parsed = JSON.parse(text) as Partial<S>;
    } catch (error) {
      throw new Error(
        `${this.file} is not valid JSON (${oneLine((error as Error).message, 120)}): the ${what} state is corrupt; rollgate reset clears it`,
      );
    }
    if (parsed?.schema !== schema || !this.#kind.valid(parsed)) {
      throw new Error(
        `${this.file} is not a rollgate ${what} state (schema ${schema}, got ${oneLine(text.trim(), 40)}): the ${what} state is corrupt; rollgate reset clears it`,
      );
    }
    return parsed as S;
  }

  /** Schedules a write of the current state. */
  save(): void {
    this.#dirty = true;
    if (this.#writing !== undefined) return;
    this.#writing = (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        // Serialize synchronously, so the file is a consistent snapshot of one moment.
        const snapshot = structuredClone(this.#snapshot());
        try {
          await writeJsonAtomic(this.file, snapshot);
        } catch (error) {
          this.#onError(error);
        }
      }
      this.#writing = undefined;
    })();
  }

  /** Resolves when every scheduled write is on disk. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }
}
