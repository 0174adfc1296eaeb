import { describeCodeDeploy } from '../../src/config/codedeploy.ts';
import { describeStrategy } from '../../src/config/progressive.ts';
import { LOCAL_OPTIONS, parseFlags } from '../args.ts';
import { loadConfig } from '../config.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';

const USAGE = 'rollgate validate [--json] [--config FILE]';

/** `rollgate validate`: checks the config and prints what it deploys. */
export async function command(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, LOCAL_OPTIONS);
  if (!flags) return EXIT.ok;
  const { config, configFile } = loadConfig(flags.values.config, io);
  if (flags.values.json) {
    io.stdout(`${JSON.stringify(config, null, 2)}\n`);
    return EXIT.ok;
  }
  io.stdout(`${configFile} is valid: ${config.targets.length} target(s)\n`);
  for (const t of config.targets) {
    const tags = `${t.tags.join(', ')}${t.excludeTags.length ? `; not ${t.excludeTags.join(', ')}` : ''}`;
    const load = t.load ? `; load ${t.load.rate} req/s for ${t.load.durationSeconds} s` : '';
    io.stdout(
      `  ${t.name}: ${t.repository} [${tags}] -> ${t.cluster}/${t.service} container ${t.container}; health ${t.health.url}${load}; ${t.codeDeploy ? describeCodeDeploy({ ...t, codeDeploy: t.codeDeploy }) : describeStrategy(t)}\n`,
    );
  }
  return EXIT.ok;
}
