// Medians over rounds, ratios ours ÷ alternative, and the targets.
import { median, ratio } from './stats.js'

// metric → which way is better (null: informative only, no ratio)
export const METRICS = {
  broadcast: { p50Ms: 'lower', p95Ms: 'lower', maxMs: 'lower', serverCpuPerDeliveryUs: 'lower', deliveredPerSec: 'higher', serverCpuPct: null, loadgenCpuPct: null },
  echo: { messagesPerSec: 'higher', serverCpuPerMessageUs: 'lower', loadgenCpuPct: null },
  memory: { rssPerConnKB: 'lower', heapPerConnKB: 'lower', rssMB: null },
  scaleout: { deliveredPerSec: 'higher', p50Ms: 'lower', p95Ms: 'lower', serverCpuPerDeliveryUs: 'lower', loadgenCpuPct: null },
  connect: { upgradesPerSec: 'higher', serverCpuPerUpgradeUs: 'lower', loadgenCpuPct: null }
}

const isOurs = (subject) => subject.startsWith('plezi')

const TARGETS = [
  { scenario: 'broadcast', param: '5000', metric: 'serverCpuPerDeliveryUs', ours: 'plezi', vs: 'ws-frame-once', max: 0.8, text: 'broadcast server CPU per delivery vs ws frame-once' },
  { scenario: 'broadcast', param: '5000', metric: 'serverCpuPerDeliveryUs', ours: 'plezi', vs: 'socketio', max: 0.4, text: 'broadcast server CPU per delivery vs Socket.IO' },
  { scenario: 'broadcast', param: '5000', metric: 'p95Ms', ours: 'plezi', vs: 'ws-frame-once', max: 1.0, text: 'broadcast p95 vs ws frame-once' },
  { scenario: 'echo', metric: 'messagesPerSec', ours: 'plezi-auto', vs: 'fastify-websocket', min: 0.85, text: 'auto-dispatch echo msg/s vs @fastify/websocket' },
  { scenario: 'echo', metric: 'messagesPerSec', ours: 'plezi', vs: 'fastify-websocket', min: 0.95, text: 'raw onMessage echo msg/s vs @fastify/websocket' },
  { scenario: 'memory', metric: 'rssPerConnKB', ours: 'plezi', vs: 'fastify-websocket', max: 1.05, text: 'RSS per idle connection vs @fastify/websocket' },
  { scenario: 'scaleout', metric: 'deliveredPerSec', ours: 'plezi', vs: 'socketio', min: 2, text: 'scale-out delivered msg/s vs Socket.IO + Redis adapter' }
]

function medians (cases, scenario) {
  const out = {}
  for (const c of cases.filter((c) => c.scenario === scenario)) {
    const key = String(c.params.clients)
    const slot = ((out[key] ??= {})[c.subject] ??= { rounds: 0, failed: 0, errors: [], samples: [] })
    if (c.error) {
      slot.failed++
      slot.errors.push(c.error)
    } else {
      slot.rounds++
      slot.samples.push(c.result)
    }
  }
  for (const bySubject of Object.values(out)) {
    for (const slot of Object.values(bySubject)) {
      for (const metric of Object.keys(METRICS[scenario])) {
        slot[metric] = median(slot.samples.map((s) => s[metric]))
      }
      delete slot.samples
      if (slot.errors.length === 0) delete slot.errors
    }
  }
  return out
}

// Median over rounds of the ratio within each round (cases of one round run
// minutes apart at most, so they share the machine's background load).
function pairedRatio (cases, scenario, param, metric, ours, vs) {
  const value = (subject, round) => cases.find((c) => c.scenario === scenario && String(c.params.clients) === param &&
    c.subject === subject && c.round === round && c.result)?.result[metric]
  const rounds = [...new Set(cases.map((c) => c.round))]
  const list = rounds.map((r) => ratio(value(ours, r), value(vs, r))).filter((v) => v !== null)
  return { paired: median(list), pairs: list.length }
}

function ratios (summary, cases) {
  const list = []
  for (const [scenario, byParam] of Object.entries(summary)) {
    for (const [param, bySubject] of Object.entries(byParam)) {
      for (const ours of Object.keys(bySubject).filter(isOurs)) {
        for (const vs of Object.keys(bySubject).filter((s) => !isOurs(s))) {
          for (const [metric, better] of Object.entries(METRICS[scenario])) {
            if (!better) continue
            const value = ratio(bySubject[ours][metric], bySubject[vs][metric])
            if (value !== null) list.push({ scenario, param, metric, ours, vs, value, better, ...pairedRatio(cases, scenario, param, metric, ours, vs) })
          }
        }
      }
    }
  }
  return list
}

function targets (summary, list) {
  return TARGETS.map((t) => {
    const byParam = summary[t.scenario] ?? {}
    // broadcast targets are set at 5,000 clients; fall back to the largest run.
    const params = Object.keys(byParam).sort((a, b) => Number(a) - Number(b))
    const param = t.param && byParam[t.param] ? t.param : params.at(-1)
    const row = byParam[param] ?? {}
    const value = ratio(row[t.ours]?.[t.metric], row[t.vs]?.[t.metric])
    const met = value === null ? null : (t.max !== undefined ? value <= t.max : value >= t.min)
    const paired = list.find((r) => r.scenario === t.scenario && r.param === param && r.metric === t.metric && r.ours === t.ours && r.vs === t.vs)?.paired ?? null
    return { ...t, param: param ?? null, value, paired, met }
  })
}

export function summarize (cases) {
  const summary = {}
  for (const scenario of Object.keys(METRICS)) {
    if (cases.some((c) => c.scenario === scenario)) summary[scenario] = medians(cases, scenario)
  }
  const list = ratios(summary, cases)
  return { summary, ratios: list, targets: targets(summary, list) }
}
