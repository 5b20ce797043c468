// Bundles PleziClient for browsers: client/browser.ts → dist/client/plezi-client.min.js, an IIFE
// that defines window.PleziClient. Fails when the minified+gzipped bundle reaches the budget.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUDGET = 3072
export const OUTFILE = join(root, 'dist/client/plezi-client.min.js')

/** Builds the bundle (written to `outfile` unless `write` is false); returns its bytes and gzipped size. */
export async function buildClient ({ outfile = OUTFILE, write = true, entry = 'client/browser.ts' } = {}) {
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile,
    write,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'warning'
  })
  const bytes = write ? readFileSync(outfile) : result.outputFiles[0].contents
  return { bytes, size: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length }
}

// CLI: `node scripts/build-client.js [--outfile path] [--budget bytes]` (tests use both).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outfile: { type: 'string' }, budget: { type: 'string' } } })
  const budget = Number(values.budget ?? BUDGET)
  const { size, gzipped } = await buildClient({ outfile: values.outfile })
  console.log(`PleziClient browser bundle: ${size} bytes minified, ${gzipped} bytes gzipped (budget < ${budget})`)
  if (gzipped >= budget) {
    console.error(`PleziClient bundle is ${gzipped} bytes gzipped: over the ${budget}-byte budget`)
    process.exit(1)
  }
}
