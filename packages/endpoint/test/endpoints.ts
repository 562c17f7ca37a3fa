// Endpoint processes for this package's tests: started before a file's tests and stopped after, whatever
// happened. The launcher itself is `@proxystore/endpoint/testing`, which the benchmark suite uses too.
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { EndpointProcess, freePort, type EndpointProcessOptions } from '@proxystore/endpoint/testing';

export { EndpointProcess, freePort, makeTestCertificates, opensslUnavailable } from '@proxystore/endpoint/testing';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Random bytes (randomFillSync caps one call at 2 GiB, hence the loop). */
export function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 1 << 30) randomFillSync(bytes, offset, Math.min(1 << 30, size - offset));
  return bytes;
}

export function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Processes (and temp dirs) that the file's afterAll removes, also those a test starts by itself. */
export function useProcesses(): {
  start(options?: EndpointProcessOptions): Promise<EndpointProcess>;
  tempDir(): string;
} {
  const started: EndpointProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), 'proxystore-endpoint-test-'));
      dirs.push(d);
      return d;
    },
    async start(options = {}) {
      const p = await EndpointProcess.start(options);
      started.push(p);
      return p;
    },
  };
}

/** One endpoint process for the tests of this file; read `.current` inside tests and hooks. */
export function useEndpoint(options: EndpointProcessOptions = {}): { readonly current: EndpointProcess } {
  let endpoint: EndpointProcess | undefined;
  beforeAll(async () => {
    endpoint = await EndpointProcess.start(options);
  });
  afterAll(async () => {
    await endpoint?.stop();
  });
  return {
    get current(): EndpointProcess {
      if (endpoint === undefined) throw new Error('endpoint not started (read it inside a test or hook)');
      return endpoint;
    },
  };
}

export type MeshKind = 'static peers' | 'a directory';

/**
 * Three endpoints A, B and C that reach each other: each names the other two as static peers (ports
 * picked before they start), or each registers with a fourth, directory endpoint D.
 */
export function useMesh(
  kind: MeshKind,
  options: EndpointProcessOptions = {},
): { readonly a: EndpointProcess; readonly b: EndpointProcess; readonly c: EndpointProcess } {
  const procs: EndpointProcess[] = [];
  beforeAll(async () => {
    if (kind === 'static peers') {
      const ports = [await freePort(), await freePort(), await freePort()];
      const addresses = ports.map((p) => `127.0.0.1:${p}`);
      for (const [i, name] of ['A', 'B', 'C'].entries()) {
        procs.push(
          await EndpointProcess.start({
            ...options,
            name,
            port: ports[i] as number,
            peers: addresses.filter((_, j) => j !== i),
          }),
        );
      }
    } else {
      const directory = await EndpointProcess.start({ ...options, name: 'D' });
      for (const name of ['A', 'B', 'C']) {
        procs.push(await EndpointProcess.start({ ...options, name, directory: directory.address }));
      }
      procs.push(directory);
    }
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });
  const at = (i: number): EndpointProcess => {
    const p = procs[i];
    if (p === undefined) throw new Error('mesh not started (read it inside a test or hook)');
    return p;
  };
  return {
    get a() {
      return at(0);
    },
    get b() {
      return at(1);
    },
    get c() {
      return at(2);
    },
  };
}
