// Medians over rounds, ratios ours ÷ alternative, and the issue's targets.
import { median, ratio } from './stats.js'

// metric → which way is better (null: informative only, no ratio; 'every': a yes/no figure,
// true only if it was true in every round, and no round failed)
export const METRICS = {
  broadcast: { p50Ms: 'lower', p95Ms: 'lower', maxMs: 'lower', serverCpuPerDeliveryUs: 'lower', deliveredPerSec: 'higher', serverCpuPct: null, loadgenCpuPct: null },
  compression: { serverCpuPerDeliveryUs: 'lower', wireBytesPerDelivery: 'lower', rssMB: 'lower', rssPerConnKB: 'lower', p50Ms: 'lower', p95Ms: 'lower', deliveredPerSec: 'higher', compressedShare: null, payloadBytes: null, loadgenCpuPct: null },
  echo: { messagesPerSec: 'higher', serverCpuPerMessageUs: 'lower', loadgenCpuPct: null },
  memory: { rssPerConnKB: 'lower', heapPerConnKB: 'lower', rssMB: null },
  scaleout: { deliveredPerSec: 'higher', p50Ms: 'lower', p95Ms: 'lower', serverCpuPerDeliveryUs: 'lower', loadgenCpuPct: null },
  connect: { upgradesPerSec: 'higher', serverCpuPerUpgradeUs: 'lower', loadgenCpuPct: null },
  history: { serverCpuPerDeliveryUs: 'lower', deliveredPerSec: 'higher', p50Ms: 'lower', p95Ms: 'lower', loadgenCpuPct: null },
  'history-scaleout': { deliveredPerSec: 'higher', serverCpuPerDeliveryUs: 'lower', p50Ms: 'lower', p95Ms: 'lower', loadgenCpuPct: null },
  'history-storm': { allRecovered: 'every', recoveredInMs: null, reconnectMs: null, serverCpuMs: null, serverCpuPerRecoveredMessageUs: null, recoveredClients: null, messages: null },
  presence: { serverCpuPerClientUs: 'lower', churnMs: 'lower', loadgenCpuPct: null },
  'presence-storm': { diffsPerSec: null, serverCpuPerDiffUs: null, diffFrames: null, diffsPerWatcher: null, stormMs: null, serverCpuMs: null, watchers: null, loadgenCpuPct: null },
  'presence-redis': { roundTripsPerRefresh: 'lower', refreshes: null, entries: null }
}
const RATED = new Set(['lower', 'higher'])

const isOurs = (subject) => subject.startsWith('plezi')

// The targets (`issue`: where each was set; a later, stricter goal for the same figure replaced
// the earlier one). `at`: the size (clients) the target is set for; a run at another size, or a
// quick run (shorter phases), is reported but not judged against it. No `max`/`min`: a figure
// reported for comparison, without a goal. `kind`:
// - 'ratio' (the default): `ours` ÷ `vs` at `at`, or ÷ `vs` at `vsAt` (the same figure at
//   another size: "must not grow" is `ours` = `vs`, `max: 1`);
// - 'check': a yes/no figure of `subject`; met if it was true in every round;
// - 'value': a figure of `subject` in its `unit`, reported; `beside`: another scenario's figure
//   shown next to it.
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
  { issue: 13, scenario: 'echo', at: 50, metric: 'messagesPerSec', ours: 'plezi-auto', vs: 'fastify-websocket-json', text: 'auto-dispatch echo msg/s vs @fastify/websocket echo that serialises its reply (the same JSON work)' },
  { issue: 13, scenario: 'echo', at: 50, metric: 'serverCpuPerMessageUs', ours: 'plezi-auto', vs: 'fastify-websocket-json', text: 'auto-dispatch echo server CPU per message vs the same' },
  { issue: 13, scenario: 'memory', at: 10000, metric: 'rssPerConnKB', ours: 'plezi', vs: 'fastify-websocket', max: 1.0, text: 'RSS per idle connection vs @fastify/websocket' },
  { issue: 13, scenario: 'memory', at: 10000, metric: 'rssPerConnKB', ours: 'plezi', vs: 'ws-frame-once', text: 'RSS per idle connection vs bare ws' },
  { issue: 13, scenario: 'broadcast', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi', vs: 'ws-frame-once', max: 0.5, text: 'broadcast server CPU per delivery vs ws frame-once' },
  { issue: 10, scenario: 'history', at: 5000, metric: 'serverCpuPerDeliveryUs', ours: 'plezi-history', vs: 'plezi', max: 1.1, text: 'broadcast server CPU per delivery, history channel vs the same without history (in-process store)' },
  { issue: 10, scenario: 'history-scaleout', at: 5000, metric: 'deliveredPerSec', ours: 'plezi-history', vs: 'plezi', min: 0.8, text: 'scale-out delivered msg/s, history channel vs without history (2 processes on Redis)' },
  { issue: 10, kind: 'check', scenario: 'history-storm', at: 5000, subject: 'plezi-history', metric: 'allRecovered', text: 'reconnect storm: every client of a killed process recovers its 100 messages from the other' },
  { issue: 10, kind: 'value', scenario: 'history-storm', at: 5000, subject: 'plezi-history', metric: 'recoveredInMs', unit: 'ms', text: 'reconnect storm: time from the first reconnect to the last recovered message' },
  { issue: 10, kind: 'value', scenario: 'history-storm', at: 5000, subject: 'plezi-history', metric: 'serverCpuMs', unit: 'ms', text: 'reconnect storm: server CPU of the process the clients reconnect to' },
  { issue: 11, scenario: 'presence', at: 5000, metric: 'serverCpuPerClientUs', ours: 'plezi-presence', vs: 'plezi', max: 1.3, text: 'connect + track + disconnect server CPU vs connect + disconnect without presence' },
  { issue: 11, kind: 'value', scenario: 'presence-storm', at: 2000, subject: 'plezi-presence', metric: 'diffsPerSec', unit: '/s', text: 'join/leave storm, 1,000 presence subscribers: diff frames delivered per second' },
  { issue: 11, kind: 'value', scenario: 'presence-storm', at: 2000, subject: 'plezi-presence', metric: 'serverCpuPerDiffUs', unit: 'µs', beside: { scenario: 'broadcast', at: 1000, subject: 'plezi', metric: 'serverCpuPerDeliveryUs', text: 'plain broadcast per delivery' }, text: 'join/leave storm: server CPU per delivered diff (the joins and leaves included)' },
  { issue: 11, scenario: 'presence-redis', at: 5000, vsAt: 10, metric: 'roundTripsPerRefresh', ours: 'plezi-presence', vs: 'plezi-presence', max: 1, text: 'Redis round trips per presence refresh period: must not grow with connections' }
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
      for (const [metric, kind] of Object.entries(METRICS[scenario])) {
        // a round that failed is not a round where it held
        if (kind === 'every') slot[metric] = slot.rounds + slot.failed > 0 ? slot.failed === 0 && slot.samples.every((s) => s[metric] === true) : null
        else slot[metric] = median(slot.samples.map((s) => s[metric]))
      }
      delete slot.samples
      if (slot.errors.length === 0) delete slot.errors
    }
  }
  return out
}

// Median over rounds of the ratio within each round (cases of one round run
// minutes apart at most, so they share the machine's background load); `vsParam`: the
// alternative's size, when it is not `param`.
function pairedRatio (cases, scenario, param, metric, ours, vs, vsParam = param) {
  const value = (subject, size, round) => cases.find((c) => c.scenario === scenario && String(c.params.clients) === size &&
    c.subject === subject && c.round === round && c.result)?.result[metric]
  const rounds = [...new Set(cases.map((c) => c.round))]
  const list = rounds.map((r) => ratio(value(ours, param, r), value(vs, vsParam, r))).filter((v) => v !== null)
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
            if (!RATED.has(better)) continue
            const value = ratio(bySubject[ours][metric], bySubject[vs][metric])
            if (value !== null) list.push({ scenario, param, metric, ours, vs, value, better, ...pairedRatio(cases, scenario, param, metric, ours, vs) })
          }
        }
      }
    }
  }
  return list
}

// The size a target is read at: its own if the run had it, else the largest that ran.
function sizeOf (byParam, at) {
  const params = Object.keys(byParam).sort((a, b) => Number(a) - Number(b))
  return byParam[String(at)] ? String(at) : params.at(-1)
}

// What a target reads from the summary: { param, vsParam?, value, paired, beside? }.
function figure (t, summary, list, cases) {
  const byParam = summary[t.scenario] ?? {}
  const param = sizeOf(byParam, t.at)
  const row = byParam[param] ?? {}
  if (t.kind === 'check' || t.kind === 'value') {
    const value = row[t.subject]?.[t.metric] ?? null
    if (!t.beside) return { param, value, paired: null }
    const other = summary[t.beside.scenario] ?? {}
    const at = other[String(t.beside.at)] ? String(t.beside.at) : Object.keys(other).sort((a, b) => Number(a) - Number(b))[0]
    return { param, value, paired: null, beside: { ...t.beside, param: at ?? null, value: other[at]?.[t.beside.subject]?.[t.beside.metric] ?? null } }
  }
  if (t.vsAt === undefined) {
    const paired = list.find((r) => r.scenario === t.scenario && r.param === param && r.metric === t.metric && r.ours === t.ours && r.vs === t.vs)?.paired ?? null
    return { param, value: ratio(row[t.ours]?.[t.metric], row[t.vs]?.[t.metric]), paired }
  }
  // the same figure at another size: the smaller one the run had, if not the target's
  const sizes = Object.keys(byParam).filter((p) => p !== param).sort((a, b) => Number(a) - Number(b))
  const vsParam = byParam[String(t.vsAt)] && String(t.vsAt) !== param ? String(t.vsAt) : sizes[0]
  if (vsParam === undefined) return { param, value: null, paired: null }
  const value = ratio(row[t.ours]?.[t.metric], byParam[vsParam]?.[t.vs]?.[t.metric])
  return { param, vsParam, value, paired: pairedRatio(cases, t.scenario, param, t.metric, t.ours, t.vs, vsParam).paired }
}

// `quick`: the run used the quick preset's shorter phases, so no figure is judged.
function targets (summary, list, cases, quick) {
  return TARGETS.map((t) => {
    const { param, vsParam, value, paired, beside } = figure(t, summary, list, cases)
    const goal = t.kind === 'check' || t.max !== undefined || t.min !== undefined
    const sized = Number(param) === t.at && (t.vsAt === undefined || Number(vsParam) === t.vsAt)
    let met = null
    let status
    if (value === null) status = 'not measured'
    else if (!goal) status = 'reported'
    else if (quick) status = 'quick run: not comparable'
    else if (!sized) status = `not comparable (target at ${t.at.toLocaleString('en-US')}${t.vsAt !== undefined ? ` vs ${t.vsAt.toLocaleString('en-US')}` : ''})`
    else {
      met = t.kind === 'check' ? value === true : t.max !== undefined ? value <= t.max : value >= t.min
      status = met ? 'yes' : 'no'
    }
    return { ...t, kind: t.kind ?? 'ratio', param: param ?? null, ...(vsParam !== undefined ? { vsParam } : {}), value, paired, ...(beside ? { beside } : {}), met, status }
  })
}

export function summarize (cases, { quick = false } = {}) {
  const summary = {}
  for (const scenario of Object.keys(METRICS)) {
    if (cases.some((c) => c.scenario === scenario)) summary[scenario] = medians(cases, scenario)
  }
  const list = ratios(summary, cases)
  return { summary, ratios: list, targets: targets(summary, list, cases, quick) }
}
