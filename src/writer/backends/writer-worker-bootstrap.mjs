// Worker-thread entry of WriterWorkerPool. Worker threads do not inherit the module hooks a
// parent registered programmatically (bin/shardfleet.js calls tsx's register()), so register tsx
// here, then load the TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
await import('./writer-worker.ts');
