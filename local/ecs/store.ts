/**
 * Persistence of the local ECS state: one JSON file, written atomically (temp file + rename) after every change.
 * Writes are coalesced: while one is in flight, further changes mark the state dirty and one more write follows.
 */
import { readFile } from 'node:fs/promises';
import { oneLine } from '../../src/core/text.ts';
import { writeJsonAtomic } from '../registry.ts';
import type { EcsState } from './model.ts';

export class StateStore {
  readonly file: string;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #snapshot: () => EcsState;
  #onError: (error: unknown) => void;

  constructor(file: string, snapshot: () => EcsState, onError: (error: unknown) => void) {
    this.file = file;
    this.#snapshot = snapshot;
    this.#onError = onError;
  }

  /** The persisted state, or undefined when there is none yet. Throws on a corrupt file, naming it. */
  async load(): Promise<EcsState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let parsed: Partial<EcsState>;
    try {
      parsed = JSON.parse(text) as Partial<EcsState>;
    } catch (error) {
      throw new Error(
        `${this.file} is not valid JSON (${oneLine((error as Error).message, 120)}): the local ECS state is corrupt; rollgate reset clears it`,
      );
    }
    if (parsed?.schema !== 'rollgate.local-ecs.v1' || typeof parsed.clusters !== 'object') {
      throw new Error(
        `${this.file} is not a rollgate local ECS state (schema rollgate.local-ecs.v1, got ${oneLine(text.trim(), 40)}): the local ECS state is corrupt; rollgate reset clears it`,
      );
    }
    return parsed as EcsState;
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
