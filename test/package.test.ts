// The package as users get it: `npm pack` of a copy of the sources (its prepack builds), the
// tarball's files and size, and two fresh consumer apps (test/consumer/) installed from it:
// strict TypeScript compiled without skipLibCheck under moduleResolution nodenext and bundler,
// and CommonJS. Both run: listen on port 0, answer HTTP and an auto-dispatch event, close.
// Offline and quick: the tarball is unpacked into the app's node_modules, and the packages it
// declares (dependencies, the fastify peer, @types/node) are linked from ours.
import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = join(root, 'node_modules/typescript/bin/tsc')
// npm's own variables from a surrounding `npm test` must not steer the inner npm
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))

interface PackResult { filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }
interface Manifest {
  name: string
  scripts?: Record<string, string>
  engines?: Record<string, string>
  exports: Record<string, Record<string, string> | string>
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
  repository?: { url: string }
  homepage?: string
  bugs?: { url: string }
  license?: string
}

const work = mkdtempSync(join(tmpdir(), 'plezi-package-')) // outside the repository: no fallback on its node_modules
t.teardown(() => rmSync(work, { recursive: true, force: true }))

/** A copy of what the repository's prepack needs, packed with npm (scripts on). */
async function pack (): Promise<{ stage: string, result: PackResult, tarball: string }> {
  const stage = join(work, 'stage')
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'lib', 'client', 'scripts']) {
    cpSync(join(root, entry), join(stage, entry), { recursive: true })
  }
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'))
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: stage, env, maxBuffer: 16 << 20 })
  const result = (JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[])[0]!
  return { stage, result, tarball: join(work, result.filename) }
}

/** A consumer app directory with the tarball installed and its declared packages linked. */
async function install (tarball: string, name: string): Promise<{ dir: string, manifest: Manifest }> {
  const dir = join(work, name)
  cpSync(join(root, 'test/consumer'), dir, { recursive: true })
  const target = join(dir, 'node_modules/fastify-plezi')
  mkdirSync(target, { recursive: true })
  await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'])
  const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as Manifest
  for (const dep of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), '@types/node']) {
    const link = join(dir, 'node_modules', dep)
    mkdirSync(dirname(link), { recursive: true })
    symlinkSync(join(root, 'node_modules', dep), link)
  }
  return { dir, manifest }
}

/** Runs `node file` in `dir`; resolves with its JSON output line. */
async function runApp (dir: string, file: string): Promise<{ result: Record<string, unknown>, stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [file], { cwd: dir, env, timeout: 20_000 })
  return { result: JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>, stderr }
}

function walk (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])
}

const packed = pack()
const consumer = packed.then(({ tarball }) => install(tarball, 'app'))
/** tsc's output for the app under each setting (nodenext also emits out/app.js), run at once. */
const typechecks = Object.fromEntries(['nodenext', 'bundler'].map((setting) => [setting, consumer.then(({ dir }) =>
  run(process.execPath, [tsc, '-p', `tsconfig.${setting}.json`, '--pretty', 'false'], { cwd: dir, env })
    .then(() => '', (err: { stdout?: string }) => err.stdout || String(err)))]))
for (const p of [packed, consumer, ...Object.values(typechecks)]) p.catch(() => {}) // failures are reported by the tests that await them

t.test('npm pack builds, and ships dist/, the sources its maps point at, and the docs', async (t) => {
  const { stage, result } = await packed
  const files = result.files.map((f) => f.path).sort()
  const docs = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']
  for (const file of [...docs, 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/index.js.map', 'dist/lib/event-map.d.ts',
    'dist/client/index.js', 'dist/client/index.d.ts', 'dist/client/plezi-client.min.js', 'lib/index.ts', 'client/client.ts']) {
    t.ok(files.includes(file), `ships ${file}`)
  }
  t.same(files.filter((f) => !docs.includes(f) && !/^dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)$/.test(f) && !/^(lib|client)\/.+\.ts$/.test(f)), [],
    'nothing but dist/ (JavaScript, declarations, their maps), the TypeScript sources and the docs')
  // lib/testing.ts is the fastify-plezi/testing export, not a test
  t.same(files.filter((f) => /(^|\/)test\/|\.test\.|\.tap|tsconfig|examples|bench|scripts\//.test(f)), [], 'no tests, configs, examples, benchmarks or scripts')
  t.ok(result.size < 250_000, `tarball ${result.size} bytes (< 250 kB)`)
  t.ok(result.unpackedSize < 1_000_000, `unpacked ${result.unpackedSize} bytes (< 1 MB)`)
  t.equal(readFileSync(join(stage, 'package.json'), 'utf8'), readFileSync(join(root, 'package.json'), 'utf8'),
    'postpack put the original package.json back')
  t.notOk(existsSync(join(stage, 'package.json.orig')), 'and left nothing behind')
})

t.test('the packed manifest: no install scripts, truthful engines, where to find the project', async (t) => {
  const { dir, manifest } = await consumer
  const scripts = manifest.scripts ?? {}
  t.same(['preinstall', 'install', 'postinstall', 'prepare'].filter((s) => s in scripts), [],
    'no script npm 11 runs or asks about on install')
  t.notOk(existsSync(join(dir, 'node_modules/fastify-plezi/binding.gyp')), 'no native build')
  t.equal(manifest.engines?.node, '^20.19.0 || >=22.12.0', 'require() of an ES module needs Node 20.19 (22.12 on 22)')
  t.equal(manifest.license, 'MIT')
  t.match(manifest.repository?.url, /^git\+https:\/\/github\.com\/.+\.git$/)
  t.match(manifest.homepage, /^https:\/\//)
  t.match(manifest.bugs?.url, /^https:\/\//)
  t.ok('@types/ws' in manifest.dependencies, '@types/ws is a dependency (our .d.ts import ws)')
  const pkgDir = join(dir, 'node_modules/fastify-plezi')
  for (const [entry, target] of Object.entries(manifest.exports)) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
      t.ok(existsSync(join(pkgDir, file)), `exports["${entry}"] → ${file} is shipped`)
    }
  }
  const maps = walk(pkgDir).filter((f) => f.endsWith('.map'))
  t.ok(maps.length > 20, `${maps.length} source maps`)
  const missing = maps.flatMap((map) => (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources
    .filter((source) => !existsSync(join(dirname(map), source))).map((source) => `${relative(pkgDir, map)} → ${source}`))
  t.same(missing, [], 'every source map points at a file the package ships')
})

for (const setting of ['nodenext', 'bundler']) {
  t.test(`a strict TypeScript app type-checks against the package (moduleResolution ${setting}, no skipLibCheck)`, async (t) => {
    t.equal(await typechecks[setting], '', 'tsc reports nothing')
  })
}

t.test('the TypeScript app runs: HTTP, a typed request, its own websocket route, then it closes', async (t) => {
  const { dir } = await consumer
  await typechecks.nodenext // emits out/app.js (even with type errors, reported above)
  const { result } = await runApp(dir, 'out/app.js')
  t.same(result, { http: { page: 'chat' }, joined: 'ada', said: 'HELLO', raw: 'raw hello' })
})

t.test('the CommonJS app runs: require() and fastify.register(require(...))', async (t) => {
  const { dir } = await consumer
  const { result } = await runApp(dir, 'app.cjs')
  t.same(result, { http: { page: 'chat' }, said: 'HELLO' })
})
