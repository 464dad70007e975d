// The machine a benchmark ran on (CPU model, cores, Node and V8 versions), and the header every
// benchmark prints first: title, machine, method and the peers measured side by side in the same run.

import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

/** Where and when a benchmark ran. Stored in every results file. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  v8: string;
  platform: string;
  date: string;
}

/** CPU model from /proc/cpuinfo (Linux), else from `os.cpus()`. */
function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model.trim() ?? 'unknown CPU';
}

export function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/** One line: "AMD EPYC, 2 cores, 8 GiB, Node v20.20.2 (V8 …), linux-x64". */
export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (V8 ${m.v8}), ${m.platform}`;
}

/** Prints the benchmark's header and returns the machine, to be stored with the results. */
export function header(title: string, method: string, peers: readonly string[]): Machine {
  const m = machine();
  console.log(`\n## ${title}`);
  console.log(`machine: ${machineLine(m)}`);
  console.log(`method:  ${method}`);
  console.log(`peers:   ${peers.join('; ')}\n`);
  return m;
}
