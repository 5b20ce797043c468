// Progress of a bench run: after each case, how many are done and an estimate of the time
// left. A case already measured in an earlier round is expected to take as long again; one
// not yet seen takes its prior (below) scaled by how the run has compared to the priors so far.

// Rough seconds per case on the 2-core reference machine (clients in thousands: k).
const PRIORS = {
  broadcast: (k) => 2.5 + 1.3 * k,
  compression: (k, subject) => (subject === 'ws-deflate' ? 4 + 6 * k : 3 + 1.2 * k),
  echo: (_k, _subject, params) => params.seconds + params.warmSeconds + 2.5,
  memory: (k) => 2 + 0.7 * k,
  scaleout: (k) => 4 + 2.2 * k,
  connect: (k) => 2 + 0.8 * k,
  history: (k) => 2.5 + 2.6 * k,
  'history-scaleout': (k) => 2.5 + 2.2 * k,
  'history-storm': (k) => 1.5 + 2.6 * k,
  presence: (k) => 1.4 + 0.9 * k,
  'presence-storm': (k, _subject, params) => 1.5 + 2 * k + (2 * (params.watchers ?? 0)) / 1000,
  'presence-redis': (k, _subject, params) => 1.5 + (params.periods * params.ttl) / 3000 + 1.3 * k
}

const keyOf = ({ scenario, subject, params }) => `${scenario}/${subject}/${params.clients}`

function prior ({ scenario, subject, params }) {
  const estimate = PRIORS[scenario]
  return 1000 * (estimate ? estimate((params.clients ?? 0) / 1000, subject, params) : 10)
}

export function formatDuration (ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m} min ${String(s % 60).padStart(2, '0')} s` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`
}

export class Progress {
  constructor (list, { started, deadline, log, now = Date.now }) {
    this.remaining = [...list]
    this.total = list.length
    this.count = 0
    this.started = started
    this.deadline = deadline
    this.log = log
    this.now = now
    this.measured = new Map() // key → ms of the last run
    this.actualMs = 0
    this.priorMs = 0
  }

  /** Milliseconds the cases not yet run should take, never past the run's deadline. */
  estimateLeft () {
    const scale = this.priorMs > 0 ? Math.min(4, Math.max(0.5, this.actualMs / this.priorMs)) : 1
    let ms = 0
    for (const item of this.remaining) ms += this.measured.get(keyOf(item)) ?? prior(item) * scale
    return Math.min(ms, Math.max(0, this.deadline - this.now()))
  }

  done (item, ms) {
    this.take(item)
    this.measured.set(keyOf(item), ms)
    this.actualMs += ms
    this.priorMs += prior(item)
    this.report(`${item.scenario} ${item.subject}`)
  }

  skipped (item) {
    this.take(item)
  }

  take (item) {
    const at = this.remaining.indexOf(item)
    if (at >= 0) this.remaining.splice(at, 1)
    this.count++
  }

  report (what) {
    const elapsed = this.now() - this.started
    const left = this.remaining.length === 0 ? 0 : this.estimateLeft()
    const pct = Math.round((100 * this.count) / this.total)
    this.log(`bench: ${this.count}/${this.total} cases (${pct} %) after ${what}; ${formatDuration(elapsed)} elapsed` +
      (this.remaining.length ? `, about ${formatDuration(left)} left` : ', done'))
  }

  /** The first line: how many cases, and the estimate before any ran. */
  start () {
    this.log(`bench: ${this.total} cases, about ${formatDuration(this.estimateLeft())} (estimate)`)
  }
}
