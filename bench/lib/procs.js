// Parent side: spawn bench children (pinned with taskset when available), talk
// to them over IPC, and make sure none survives the orchestrator.
import { spawn, execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

const children = new Set()

export function killAll () {
  for (const child of children) child.kill()
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}
process.on('exit', killAll)

export function detectPinning () {
  const cores = availableParallelism()
  if (cores < 2) return null
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
  } catch {
    return null
  }
  // Servers on core 0, load generators on the rest.
  return { server: '0', loadgen: cores === 2 ? '1' : `1-${cores - 1}` }
}

// `null` in env removes that variable (e.g. REDIS_URL for in-process runs).
function childEnv (overrides, maxMs) {
  const env = { ...process.env, BENCH_MAX_MS: String(maxMs) }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === null || value === undefined) delete env[key]
    else env[key] = String(value)
  }
  return env
}

export class Child {
  constructor (name, script, { cpus = null, env = {}, nodeArgs = [], maxMs = 600_000 } = {}) {
    this.name = name
    this.pending = new Map()
    this.listeners = new Map()
    this.nextId = 1
    // sh raises the soft open-files limit to the hard one, then execs
    // (taskset) node, which keeps the IPC descriptor and the pid.
    const command = [...(cpus ? ['taskset', '-c', cpus] : []), process.execPath, ...nodeArgs, script]
    this.proc = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...command], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: childEnv(env, maxMs)
    })
    this.pid = this.proc.pid
    children.add(this)
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        children.delete(this)
        const error = new Error(`${name} exited (code ${code}, signal ${signal})`)
        for (const { reject } of this.pending.values()) reject(error)
        this.pending.clear()
        this.fire('exit', { code, signal })
        resolve({ code, signal })
      })
    })
    this.proc.on('message', (msg) => this.onMessage(msg))
    this.proc.on('error', () => {})
  }

  onMessage (msg) {
    if (msg.reply !== undefined) {
      const waiter = this.pending.get(msg.reply)
      if (!waiter) return
      this.pending.delete(msg.reply)
      clearTimeout(waiter.timer)
      if (msg.ok) waiter.resolve(msg)
      else waiter.reject(new Error(`${this.name}: ${msg.error}`))
      return
    }
    this.fire(msg.ev, msg)
  }

  fire (ev, msg) {
    for (const fn of this.listeners.get(ev) ?? []) fn(msg)
  }

  on (ev, fn) {
    if (!this.listeners.has(ev)) this.listeners.set(ev, [])
    this.listeners.get(ev).push(fn)
    return this
  }

  off (ev, fn) {
    const list = this.listeners.get(ev) ?? []
    const at = list.indexOf(fn)
    if (at >= 0) list.splice(at, 1)
    return this
  }

  once (ev, timeoutMs) {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer)
        this.off(ev, onEvent)
        this.off('exit', onExit)
      }
      const onEvent = (msg) => { cleanup(); resolve(msg) }
      const onExit = ({ code }) => { cleanup(); reject(new Error(`${this.name} exited (code ${code}) before '${ev}'`)) }
      const timer = setTimeout(() => { cleanup(); reject(new Error(`${this.name}: no '${ev}' within ${timeoutMs} ms`)) }, timeoutMs)
      this.on(ev, onEvent)
      this.on('exit', onExit)
    })
  }

  request (cmd, args = {}, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      if (!this.proc.connected) return reject(new Error(`${this.name} is not running`))
      const id = this.nextId++
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name}: '${cmd}' timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.proc.send({ cmd, id, ...args })
    })
  }

  notify (cmd, args = {}) {
    if (this.proc.connected) this.proc.send({ cmd, ...args })
  }

  async stop (graceMs = 2000) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.notify('exit')
    const timer = setTimeout(() => this.kill(), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  kill () {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL')
  }
}
