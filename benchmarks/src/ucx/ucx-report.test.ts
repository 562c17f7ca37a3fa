// How report.md shows the UCX rows: the ops table with a ratio column per baseline, and the bandwidth
// table (subject GB/s ÷ each baseline's GB/s) that the 0.9× target is read from.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { markdownReport } from '../markdown.js';
import { type ReportJson, rowJson } from '../report.js';
import type { Row } from '../suite.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/sample-results.json', import.meta.url), 'utf8')) as ReportJson;
const MiB = 1024 * 1024;

function stats(ms: number): Row['subject']['stats'] {
  return { samples: 8, min: ms, max: ms, mean: ms, median: ms, p99: ms };
}

function ucxRow(op: 'get' | 'put', baseline: string, subjectMs: number, baselineMs: number): Row {
  return {
    suite: 'ops',
    case: op,
    connector: 'ucx-sm',
    bytes: 4 * MiB,
    params: { baseline, transport: 'sm', tls: 'sm,self', rounds: 8, callsPerRound: 16, bandwidthRatio: baselineMs / subjectMs },
    subject: { name: `store.${op}`, stats: stats(subjectMs) },
    baseline: { name: `${baseline} ${op}`, stats: stats(baselineMs) },
  };
}

describe('report.md with UCX rows', () => {
  const rows = [ucxRow('get', 'addon', 1, 0.5), ucxRow('get', 'ucx_perftest', 1, 0.8), ucxRow('put', 'addon', 2, 2), ucxRow('put', 'ucx_perftest', 2, 1)];
  const md = markdownReport({ ...fixture, rows: rows.map(rowJson) }, { plots: [], imageDir: '.' });

  it('gives the ops table a ratio column per baseline', () => {
    expect(md).toContain('### ucx-sm');
    expect(md).toContain('| size | put median | put ratio (addon) | put ratio (ucx_perftest) | get median | get ratio (addon) | get ratio (ucx_perftest) |');
    expect(md).toContain('| 4 MiB | 2.00 ms | 1.00× | 2.00× | 1.00 ms | 2.00× | 1.25× |');
  });

  it('adds the bandwidth table: GB/s side by side and subject ÷ each baseline', () => {
    expect(md).toContain('**ucx-sm: bandwidth** (UCX_TLS=sm,self; 8 interleaved rounds per figure');
    expect(md).toContain('| size | op | GB/s | addon GB/s | ucx_perftest GB/s | ÷ addon | ÷ ucx_perftest |');
    expect(md).toContain('| 4 MiB | put | 2.10 | 2.10 | 4.19 | 1.00× | 0.500× |');
    expect(md).toContain('| 4 MiB | get | 4.19 | 8.39 | 5.24 | 0.500× | 0.800× |');
  });

  it('names the poll window in the heading when the store processes ran with one', () => {
    const polled = rows.map((r) => ({ ...r, params: { ...r.params, pollUs: 2000 } }));
    const withPoll = markdownReport({ ...fixture, rows: polled.map(rowJson) }, { plots: [], imageDir: '.' });
    expect(withPoll).toContain('**ucx-sm: bandwidth** (UCX_TLS=sm,self; PROXYSTORE_UCX_POLL_US=2000: the store');
    expect(md).not.toContain('PROXYSTORE_UCX_POLL_US');
  });

  it('names the owner\'s own poll window (PROXYSTORE_BENCH_DAEMON_POLL_US) when it differs from the client\'s', () => {
    const ownerOnly = rows.map((r) => ({ ...r, params: { ...r.params, pollUs: 0, daemonPollUs: 1000 } }));
    const text = markdownReport({ ...fixture, rows: ownerOnly.map(rowJson) }, { plots: [], imageDir: '.' });
    expect(text).toContain('(UCX_TLS=sm,self; PROXYSTORE_BENCH_DAEMON_POLL_US=1000: the owner (the daemon) polls that long after each message, the client not at all;');
    expect(text).not.toContain('PROXYSTORE_UCX_POLL_US');
    // The same window on both sides is the client's heading alone.
    const both = rows.map((r) => ({ ...r, params: { ...r.params, pollUs: 2000, daemonPollUs: 2000 } }));
    expect(markdownReport({ ...fixture, rows: both.map(rowJson) }, { plots: [], imageDir: '.' })).not.toContain('PROXYSTORE_BENCH_DAEMON_POLL_US');
  });

  it('leaves other connectors without a bandwidth table', () => {
    const plain = markdownReport(fixture, { plots: [], imageDir: '.' });
    expect(plain).not.toContain(': bandwidth**');
  });
});
