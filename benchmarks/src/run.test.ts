import { describe, expect, it } from 'vitest';
import { MiB, defaultConfig } from './config.js';
import { BENCH_CONNECTORS } from './connectors.js';
import { budgets, runName, selectConnectors, SUITES } from './run.js';

const all = SUITES.map((s) => s.name);

describe('runner', () => {
  it('knows every suite of the CLI, in the same order', async () => {
    const { SUITE_NAMES } = await import('./config.js');
    expect(all).toEqual([...SUITE_NAMES]);
  });

  it('selects all connectors by default, or the named ones, and names the known ones for a typo', () => {
    expect(selectConnectors([]).map((c) => c.name)).toEqual(BENCH_CONNECTORS.map((c) => c.name));
    expect(selectConnectors(['file']).map((c) => c.name)).toEqual(['file']);
    expect(() => selectConnectors(['fiel'])).toThrow(/Unknown connector\(s\): fiel; known: memory, file/);
  });

  it('names a run by what it covers', () => {
    expect(runName(defaultConfig('/o'), all)).toBe('full');
    expect(runName(defaultConfig('/o', { quick: true }), all)).toBe('quick');
    expect(runName(defaultConfig('/o', { suites: ['ops'] }), all)).toBe('custom');
    expect(runName(defaultConfig('/o', { quick: true, sizes: [1] }), all)).toBe('quick-custom');
  });

  it('gives large payloads few samples under a wall-clock cap, and honours --repeat', () => {
    const full = budgets(defaultConfig('/o'));
    const quick = budgets(defaultConfig('/o', { quick: true }));
    expect(quick.budget.time).toBeLessThan(full.budget.time);
    expect(full.budgetFor(256 * MiB).iterations).toBeLessThan(full.budget.iterations);
    expect(full.budgetFor(256 * MiB).wallLimit).toBeGreaterThan(0);
    const repeated = budgets(defaultConfig('/o', { repeat: 3 }));
    expect(repeated.budget.iterations).toBe(3);
    expect(repeated.budgetFor(64 * MiB).iterations).toBe(3);
  });
});
