// --snapshot: benchmark the committed HEAD of fastify-plezi, compiled into a
// private directory, so that rebuilds of dist/ by other work on the same tree
// cannot change the code under test halfway through a run.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, symlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function buildSnapshot (root) {
  const dir = mkdtempSync(join(tmpdir(), 'plezi-bench-'))
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  const archive = execFileSync('git', ['archive', 'HEAD', 'lib', 'client', 'package.json', 'tsconfig.json', 'tsconfig.build.json'], { cwd: root, maxBuffer: 256 * 2 ** 20 })
  execFileSync('tar', ['-x', '-C', dir], { input: archive })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: 'inherit' })
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return { module: join(dir, 'dist/lib/index.js'), commit }
}
