// Where a result was measured. A ratio is only comparable with another taken on a like machine, so every
// results file carries this next to its numbers.
import { availableParallelism, cpus, freemem, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs the OS reports, and how many this process may use. */
  cpus: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  platform: NodeJS.Platform;
  arch: string;
  osRelease: string;
  node: string;
  v8: string;
}

export function describeMachine(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    availableParallelism: availableParallelism(),
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    platform: process.platform,
    arch: process.arch,
    osRelease: release(),
    node: process.version,
    v8: process.versions.v8,
  };
}

/** One line for the top of a console report. */
export function machineLine(m: MachineInfo): string {
  const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return `${m.cpuModel}, ${m.cpus} CPUs, ${gib(m.totalMemoryBytes)} RAM, ${m.platform}-${m.arch} ${m.osRelease}, Node ${m.node}`;
}
