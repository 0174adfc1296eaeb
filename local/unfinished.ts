/**
 * Executions in progress, persisted as they run (Step Functions keeps every execution's state; a local run dies with
 * its process): `<stateDir>/executions/<name>.json` holds an {@link UnfinishedExecution} from the start until the
 * run's end replaces it with the stored execution. One found there whose process is gone was interrupted (SIGKILL, a
 * crash, a closed terminal): the next local run resolves it (LocalRunner's recovery).
 */
import path from 'node:path';
import { isSameProcess, processIdentity } from './cloud.ts';
import { executionsDir, readExecutions, UNFINISHED_SCHEMA, type UnfinishedExecution } from './history.ts';
import { writeJsonAtomic } from './registry.ts';

/** The progress file of one running execution; writes are atomic and coalesced (one in flight, the last one wins). */
export class ProgressFile {
  readonly file: string;
  #state: UnfinishedExecution;
  #writing: Promise<void> = Promise.resolve();
  #pending = false;

  private constructor(file: string, state: UnfinishedExecution) {
    this.file = file;
    this.#state = state;
  }

  /** Writes the execution's first progress record, before its first state runs. */
  static async start(
    stateDir: string,
    execution: { readonly name: string; readonly executionArn: string; readonly startDate: string; input: unknown },
  ): Promise<ProgressFile> {
    const progress = new ProgressFile(path.join(executionsDir(stateDir), `${execution.name}.json`), {
      schema: UNFINISHED_SCHEMA,
      ...execution,
      pid: process.pid,
      processIdentity: processIdentity(process.pid),
      statesEntered: [],
      updatedAt: new Date().toISOString(),
    });
    await writeJsonAtomic(progress.file, progress.#state);
    return progress;
  }

  /** Records a state entered. */
  entered(state: string): void {
    this.#state = {
      ...this.#state,
      statesEntered: [...this.#state.statesEntered, state],
      updatedAt: new Date().toISOString(),
    };
    if (this.#pending) return;
    this.#pending = true;
    this.#writing = this.#writing.then(async () => {
      this.#pending = false;
      await writeJsonAtomic(this.file, this.#state).catch(() => undefined);
    });
  }

  /** Resolves when the last progress is on disk (before the run's end replaces it). */
  flush(): Promise<void> {
    return this.#writing;
  }
}

/**
 * Executions of this state directory that did not end and whose rollgate process is gone (or is another process
 * under a reused pid). Called with the local cloud's lock held, so no other rollgate runs one; those of this very
 * process are left alone.
 */
export function interruptedExecutions(stateDir: string): UnfinishedExecution[] {
  return readExecutions(stateDir).unfinished.filter(
    (u) => u.pid !== process.pid && !isSameProcess(u.pid, u.processIdentity),
  );
}
