// Entry of a load-generator worker thread. A worker thread does not inherit loader hooks that the main thread added
// with tsx's register() (as bin/rollgate.js does), so register tsx here, then load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker-thread.ts');
