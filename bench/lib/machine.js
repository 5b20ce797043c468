// What the numbers were measured on.
import os from 'node:os'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'

const require = createRequire(import.meta.url)

function version (pkg) {
  try {
    return require(`${pkg}/package.json`).version
  } catch {
    return null
  }
}

function gitCommit () {
  try {
    const cwd = new URL('../..', import.meta.url)
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { cwd, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${commit} (lib/ modified)` : commit
  } catch {
    return null
  }
}

export function machine (pin) {
  let kernel = os.release()
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() } catch {}
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${kernel}`,
    loadAvgAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    pinning: pin ? `taskset: servers on CPU ${pin.server}, load generators on CPU ${pin.loadgen}` : 'none (taskset unavailable or < 2 CPUs)',
    date: new Date().toISOString(),
    commit: gitCommit(),
    versions: {
      ws: version('ws'),
      fastify: version('fastify'),
      '@fastify/websocket': version('@fastify/websocket'),
      'socket.io': version('socket.io'),
      '@socket.io/redis-adapter': version('@socket.io/redis-adapter'),
      'fastify-plezi': version('fastify-plezi')
    }
  }
}
