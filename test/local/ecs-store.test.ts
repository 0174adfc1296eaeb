import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../local/ecs/store.ts';

/** A corrupt local ECS state file is named, with the fix, and its content is never echoed raw. */
describe('the local ECS state file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-ecs-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const storeOf = (content: string) => {
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, content);
    return new StateStore(
      file,
      () => ({}) as never,
      () => undefined,
    );
  };

  it('names a file that is not JSON and says rollgate reset clears it, escaping what the parser quotes', async () => {
    const store = storeOf('\u001b[2Jgarbage{');
    const err = (await store.load().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/ is not valid JSON \(.*\): the local ECS state is corrupt; rollgate reset clears it$/);
    expect(err.message).toContain(store.file);
    expect(err.message).not.toContain('\u001b');
  });

  it('names a JSON file that is not a rollgate state', async () => {
    const store = storeOf('null');
    await expect(store.load()).rejects.toThrow(
      /is not a rollgate local ECS state .*got null.*; rollgate reset clears it$/,
    );
  });

  it('reads nothing from a state that does not exist yet', async () => {
    const store = new StateStore(
      path.join(dir, 'missing.json'),
      () => ({}) as never,
      () => undefined,
    );
    expect(await store.load()).toBeUndefined();
  });
});
