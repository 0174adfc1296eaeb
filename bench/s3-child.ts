/** The local S3 (s3rver) in a process of its own for bench/aggregate-load.ts: prints its endpoint, stops on stdin end. */
import { startS3 } from '../local/s3.ts';

const s3 = await startS3({ directory: process.argv[2] ?? '.', buckets: ['artifacts'] });
process.stdout.write(`${s3.endpoint}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void s3.close().then(() => process.exit(0));
});
