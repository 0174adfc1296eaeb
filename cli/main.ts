import { main } from './commands.ts';

const code = await main(process.argv.slice(2));
// Let piped stdout drain, then exit even if a keep-alive socket would hold the event loop open.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
