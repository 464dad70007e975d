// Bootstrap of TypeScript benchmark workers: registers tsx in this worker thread, then imports the
// script named by workerData.script (Node 20 workers do not inherit the parent's loader hooks).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.script);
