// Where a result was measured. A ratio is only comparable with another taken on a like machine, so every
// results file carries this next to its numbers, with the versions of the transports' own software.
import { execFileSync } from 'node:child_process';
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
  /** UCX library version from `ucx_info -v`, or null when UCX is not installed. */
  ucx: string | null;
  /** `redis-server --version`, or null when not installed. */
  redis: string | null;
}

/** First line of a command's output matching `pattern` (group 1), or null if the command is absent or fails. */
function versionOf(command: string, args: string[], pattern: RegExp): string | null {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return pattern.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
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
    ucx: versionOf('ucx_info', ['-v'], /(?:Library version:|# Version)\s*(\S+)/),
    redis: versionOf('redis-server', ['--version'], /v=(\S+)/),
  };
}

/** One line for the top of a report. */
export function machineLine(m: MachineInfo): string {
  const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  const extras = [m.ucx === null ? 'no UCX' : `UCX ${m.ucx}`, ...(m.redis === null ? [] : [`Redis ${m.redis}`])];
  return `${m.cpuModel}, ${m.cpus} CPUs, ${gib(m.totalMemoryBytes)} RAM, ${m.platform}-${m.arch} ${m.osRelease}, Node ${m.node}, ${extras.join(', ')}`;
}
