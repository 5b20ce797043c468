// Medians over rounds, ratios ours ÷ alternative, and the issue's targets.
import { median, ratio } from './stats.js'

// metric → which way is better (null: informative only, no ratio)
export const METRICS = {
  broadcast: { p50Ms: 'lower', p95Ms: 'lower', maxMs: 'lower', serverCpuPerDeliveryUs: 'lower', deliveredPerSec: 'higher', serverCpuPct: null, loadgenCpuPct: null },
  compression: { serverCpuPerDeliveryUs: 'lower', wireBytesPerDelivery: 'lower', rssMB: 'lower', rssPerConnKB: 'lower', p50Ms: 'lower', p95Ms: 'lower', deliveredPerSec: 'higher', compressedShare: null, payloadBytes: null, loadgenCpuPct: null },
  echo: { messagesPerSec: 'higher', serverCpuPerMessageUs: 'lower', loadgenCpuPct: null },
  memory: { rssPerConnKB: 'lower', heapPerConnKB: 'lower', rssMB: null },
  scaleout: { deliveredPerSec: 'higher', p50Ms: 'lower', p95Ms: 'lower', serverCpuPerDeliveryUs: 'lower', loadgenCpuPct: null },
  connect: { upgradesPerSec: 'higher', serverCpuPerUpgradeUs: 'lower', loadgenCpuPct: null }
}

const isOurs = (subject) => subject.startsWith('plezi')

// The targets (`issue`: where each was set; a later, stricter goal for the same figure replaced
// the earlier one). `at`: the size (clients) the target is set for; a run at another size, or a
// quick run (shorter phases), is reported but not judged against it. No `max`/`min`: a figure
// reported for comparison, without a goal.
export const TARGETS = [
  { issue: 6, scenario: 'broadcast', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi', vs: 'socketio', max: 0.4, text: 'broadcast server CPU per delivery vs Socket.IO' },
  { issue: 6, scenario: 'broadcast', at: 5000, metric: 'p95Ms', ours: 'plezi', vs: 'ws-frame-once', max: 1.0, text: 'broadcast p95 vs ws frame-once' },
  { issue: 6, scenario: 'echo', at: 50, metric: 'messagesPerSec', ours: 'plezi', vs: 'fastify-websocket', min: 0.95, text: 'raw onMessage echo msg/s vs @fastify/websocket' },
  { issue: 6, scenario: 'scaleout', at: 5000, metric: 'deliveredPerSec', ours: 'plezi', vs: 'socketio', min: 2, text: 'scale-out delivered msg/s vs Socket.IO + Redis adapter' },
  { issue: 13, scenario: 'compression', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi-deflate', vs: 'ws-deflate', max: 0.1, text: 'compressed broadcast server CPU per delivery vs ws perMessageDeflate' },
  { issue: 13, scenario: 'compression', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi-deflate', vs: 'plezi', max: 1.3, text: 'compressed broadcast server CPU per delivery vs our uncompressed fan-out' },
  { issue: 13, scenario: 'compression', at: 5000, metric: 'rssMB', ours: 'plezi-deflate', vs: 'ws-deflate', max: 0.5, text: 'RSS with 5,000 compressed connections vs ws perMessageDeflate' },
  { issue: 13, scenario: 'compression', at: 5000, metric: 'wireBytesPerDelivery', ours: 'plezi-deflate', vs: 'ws-deflate', text: 'compressed broadcast bytes on the wire per delivery vs ws perMessageDeflate' },
  { issue: 13, scenario: 'compression', at: 5000, metric: 'wireBytesPerDelivery', ours: 'plezi-deflate', vs: 'plezi', text: 'compressed broadcast bytes on the wire per delivery vs uncompressed' },
  { issue: 13, scenario: 'echo', at: 50, metric: 'messagesPerSec', ours: 'plezi-auto', vs: 'fastify-websocket', min: 0.95, text: 'auto-dispatch echo msg/s vs @fastify/websocket raw echo' },
  { issue: 13, scenario: 'echo', at: 50, metric: 'serverCpuPerMessageUs', ours: 'plezi-auto', vs: 'fastify-websocket', max: 1.1, text: 'auto-dispatch echo server CPU per message vs @fastify/websocket' },
  { issue: 13, scenario: 'memory', at: 10000, metric: 'rssPerConnKB', ours: 'plezi', vs: 'fastify-websocket', max: 1.0, text: 'RSS per idle connection vs @fastify/websocket' },
  { issue: 13, scenario: 'memory', at: 10000, metric: 'rssPerConnKB', ours: 'plezi', vs: 'ws-frame-once', text: 'RSS per idle connection vs bare ws' },
  { issue: 13, scenario: 'broadcast', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi', vs: 'ws-frame-once', max: 0.5, text: 'broadcast server CPU per delivery vs ws frame-once' }
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
        // against the alternatives, and against our own other variants (compressed ÷ plain)
        for (const vs of Object.keys(bySubject).filter((s) => s !== ours)) {
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

// `quick`: the run used the quick preset's shorter phases, so no figure is judged.
function targets (summary, list, quick) {
  return TARGETS.map((t) => {
    const byParam = summary[t.scenario] ?? {}
    // judged at the target's size; otherwise the largest size that ran is shown, not judged
    const params = Object.keys(byParam).sort((a, b) => Number(a) - Number(b))
    const param = byParam[String(t.at)] ? String(t.at) : params.at(-1)
    const row = byParam[param] ?? {}
    const value = ratio(row[t.ours]?.[t.metric], row[t.vs]?.[t.metric])
    const paired = list.find((r) => r.scenario === t.scenario && r.param === param && r.metric === t.metric && r.ours === t.ours && r.vs === t.vs)?.paired ?? null
    const goal = t.max !== undefined || t.min !== undefined
    let met = null
    let status
    if (value === null) status = 'not measured'
    else if (!goal) status = 'reported'
    else if (quick) status = 'quick run: not comparable'
    else if (Number(param) !== t.at) status = `not comparable (target at ${t.at.toLocaleString('en-US')})`
    else {
      met = t.max !== undefined ? value <= t.max : value >= t.min
      status = met ? 'yes' : 'no'
    }
    return { ...t, param: param ?? null, value, paired, met, status }
  })
}

export function summarize (cases, { quick = false } = {}) {
  const summary = {}
  for (const scenario of Object.keys(METRICS)) {
    if (cases.some((c) => c.scenario === scenario)) summary[scenario] = medians(cases, scenario)
  }
  const list = ratios(summary, cases)
  return { summary, ratios: list, targets: targets(summary, list, quick) }
}
