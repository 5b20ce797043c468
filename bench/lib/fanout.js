// Parent side of a broadcast run across one or more load generators.
// Sender j lives in load generator 0 (its client j); a broadcast counts as
// delivered when EVERY client in every load generator has it; only then does
// that sender send its next one. Latency = last receipt − send time, both
// taken from CLOCK_MONOTONIC in the load generators.

const WARM_UPS = 5
const STALL_MS = 10_000 // no broadcast completed for this long: give up

export class Fanout {
  constructor (loadgens, servers, { broadcasts, senders, fields }) {
    this.loadgens = loadgens
    this.servers = servers
    this.serverDied = null
    this.onServerExit = ({ code, signal }) => {
      this.serverDied = `a server process exited during the run (code ${code}, signal ${signal})`
      this.loadgens[0].request('abort').catch(() => {})
    }
    for (const s of servers) s.on('exit', this.onServerExit)
    this.broadcasts = broadcasts
    this.senders = senders
    this.fields = fields
    this.sentAt = new Map()
    this.completes = new Map() // id → { n, t }
    this.latencies = new Map() // id → µs
    this.lastDone = 0
    this.onSent = (msg) => { this.sentAt.set(msg.id, msg.t); this.check(msg.id) }
    this.onComplete = (msg) => {
      const c = this.completes.get(msg.id) ?? { n: 0, t: 0 }
      c.n++
      c.t = Math.max(c.t, msg.t)
      this.completes.set(msg.id, c)
      this.check(msg.id)
    }
    loadgens[0].on('sent', this.onSent)
    for (const lg of loadgens) lg.on('complete', this.onComplete)
  }

  check (id) {
    const c = this.completes.get(id)
    if (!c || c.n !== this.loadgens.length || !this.sentAt.has(id) || this.latencies.has(id)) return
    this.latencies.set(id, c.t - this.sentAt.get(id))
    this.lastDone = c.t
    this.lastProgress = Date.now()
    this.loadgens[0].notify('done', { bid: id })
  }

  async track () {
    const tracked = await Promise.all(this.loadgens.map((lg) => lg.request('track', { ids: this.broadcasts + WARM_UPS, fields: this.fields })))
    return tracked.reduce((sum, t) => sum + t.expected, 0)
  }

  // A few single broadcasts until one reaches every client: subscriptions are
  // active, code paths are warm. Not measured.
  async warmUp (timeoutMs = 3000) {
    for (let w = 0; w < WARM_UPS; w++) {
      if (this.serverDied) throw new Error(this.serverDied)
      const id = this.broadcasts + w
      try {
        await this.loadgens[0].request('send', { senders: [[id]], fields: this.fields }, timeoutMs)
        if (this.latencies.has(id)) return w + 1
      } catch {
        await this.loadgens[0].request('abort')
      }
    }
    throw new Error(`no warm-up broadcast reached every client in ${WARM_UPS} tries`)
  }

  // Returns { latenciesUs, completed, wallMs }.
  async measure (timeoutMs) {
    const senders = Array.from({ length: this.senders }, (_, j) => {
      const ids = []
      for (let id = j; id < this.broadcasts; id += this.senders) ids.push(id)
      return ids
    })
    const startUs = Number(process.hrtime.bigint() / 1000n)
    let error = null
    this.lastProgress = Date.now()
    const watchdog = setInterval(() => {
      if (Date.now() - this.lastProgress < STALL_MS) return
      error = `stalled: no broadcast reached every client for ${STALL_MS / 1000} s`
      this.loadgens[0].request('abort').catch(() => {})
    }, 1000)
    try {
      await this.loadgens[0].request('send', { senders, fields: this.fields }, timeoutMs)
    } catch (err) {
      error = err.message
      await this.loadgens[0].request('abort').catch(() => {})
    } finally {
      clearInterval(watchdog)
    }
    if (this.serverDied) error = this.serverDied
    const latenciesUs = []
    for (let id = 0; id < this.broadcasts; id++) {
      if (this.latencies.has(id)) latenciesUs.push(this.latencies.get(id))
    }
    return { latenciesUs, completed: latenciesUs.length, wallMs: (this.lastDone - startUs) / 1000, error }
  }

  dispose () {
    for (const s of this.servers) s.off('exit', this.onServerExit)
    this.loadgens[0].off('sent', this.onSent)
    for (const lg of this.loadgens) lg.off('complete', this.onComplete)
  }
}
