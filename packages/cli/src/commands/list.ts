// `proxystore endpoint list [--json]`: every configured endpoint and whether it runs.
import { readdirSync } from 'node:fs';
import { readConfig } from '../config.js';
import { readState } from '../daemon.js';
import { checkName, endpointPaths, endpointsDir } from '../home.js';
import type { Context } from './context.js';

export interface EndpointRow {
  name: string;
  id: string | null;
  address: string | null;
  status: 'running' | 'stopped' | 'stale';
  pid: number | null;
}

function isEndpointName(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}

export function listEndpoints(home: string, warn: (text: string) => void = () => {}): EndpointRow[] {
  let names: string[];
  try {
    names = readdirSync(endpointsDir(home), { withFileTypes: true })
      .filter((d) => d.isDirectory() && isEndpointName(d.name))
      .map((d) => d.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rows: EndpointRow[] = [];
  for (const name of names) {
    const paths = endpointPaths(home, name);
    let id: string | null = null;
    try {
      const config = readConfig(paths);
      if (config === undefined) continue; // a directory without endpoint.json is not an endpoint
      id = typeof config.id === 'string' ? config.id : null;
    } catch (error) {
      // One broken endpoint must not hide the others.
      warn(`${error instanceof Error ? error.message : String(error)}\n`);
    }
    const state = readState(paths);
    rows.push({
      name,
      id,
      address: state.state === 'running' ? (state.status?.address ?? null) : null,
      status: state.state,
      pid: state.state === 'stopped' ? null : state.pid,
    });
  }
  return rows;
}

export function formatTable(rows: readonly EndpointRow[]): string {
  const header = ['NAME', 'ID', 'ADDRESS', 'STATUS', 'PID'];
  const cells = rows.map((r) => [r.name, r.id ?? '-', r.address ?? '-', r.status, r.pid === null ? '-' : String(r.pid)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[header, ...cells].map(line).join('\n')}\n`;
}

export function list(ctx: Context, options: { json: boolean }): number {
  const rows = listEndpoints(ctx.home, (text) => ctx.io.err(text));
  if (options.json) ctx.io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) ctx.io.out('no endpoints configured (create one with `proxystore endpoint configure NAME`)\n');
  else ctx.io.out(formatTable(rows));
  return 0;
}
