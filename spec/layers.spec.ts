// The layering DESIGN.md asks for ("Recipe family"): lower layers never import higher ones, and
// no module imports itself back through others. Read from the sources, so a new import that
// breaks the rule fails here, not in a review.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from './support/test.js';

const LIB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../lib');

/** Layers from the bottom up; a module may import its own layer and the ones below. */
const LAYERS: string[][] = [
  ['util', 'errors.ts', 'version.ts'],
  ['zk', 'ops'],
  ['session'],
  ['lock'],
  ['leader', 'recipes'],
  ['tasks'],
  ['coordinator.ts', 'index.ts', 'cli'],
];

function layerOf(file: string): number {
  const top = path.relative(LIB, file).split(path.sep)[0] ?? '';
  const index = LAYERS.findIndex((layer) => layer.includes(top));
  assert.notEqual(index, -1, `${top} is in no layer: add it to LAYERS in spec/layers.spec.ts`);
  return index;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Relative imports of a module (type-only ones included: they are dependencies too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    found.push(path.resolve(path.dirname(file), (match[1] as string).replace(/\.js$/, '.ts')));
  }
  for (const match of text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
    found.push(path.resolve(path.dirname(file), (match[1] as string).replace(/\.js$/, '.ts')));
  }
  return found;
}

describe('Module layering', () => {
  const files = sources(LIB);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('finds the modules and their imports', () => {
    assert.ok(files.length > 40, `only ${files.length} modules found under lib/`);
    assert.ok([...graph.values()].some((imports) => imports.length > 0));
  });

  it('no module imports from a higher layer (the session layer imports no recipe)', () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (layerOf(target) > layerOf(file)) {
          violations.push(`${path.relative(LIB, file)} -> ${path.relative(LIB, target)}`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  it('has no import cycles', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        const start = trail.indexOf(file);
        cycles.push([...trail.slice(start), file].map((f) => path.relative(LIB, f)).join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
