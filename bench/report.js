// Turns bench results into latest.json, latest.md (the README table) and
// latest.svg (hand-written SVG: RTT and CPU vs clients, echo and memory bars).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { round } from './lib/stats.js'

const COLORS = {
  plezi: '#e4572e',
  'plezi-deflate': '#a4243b',
  'plezi-auto': '#f3a712',
  'plezi-request': '#d8973c',
  'ws-frame-once': '#4c72b0',
  'ws-deflate': '#2a4d7f',
  'fastify-websocket': '#55a868',
  'fastify-websocket-json': '#8fce9f',
  socketio: '#8172b2',
  'plezi-history': '#c0392b',
  'plezi-presence': '#e67e22'
}
const LABELS = {
  plezi: 'fastify-plezi',
  'plezi-deflate': 'fastify-plezi compression',
  'plezi-auto': 'fastify-plezi auto-dispatch',
  'plezi-request': 'fastify-plezi auto-dispatch, _EID_ (ack + reply)',
  'ws-frame-once': 'ws frame-once (reference)',
  'ws-deflate': 'ws perMessageDeflate',
  'fastify-websocket': '@fastify/websocket',
  'fastify-websocket-json': '@fastify/websocket, reply serialised (JSON.stringify)',
  socketio: 'Socket.IO',
  'plezi-history': 'fastify-plezi, history channel',
  'plezi-presence': 'fastify-plezi with presence'
}
// The history and presence sections compare fastify-plezi with itself: `plezi` there is the same
// server without the feature.
const HISTORY_LABELS = { plezi: 'fastify-plezi, plain channel', 'plezi-history': LABELS['plezi-history'] }
const PRESENCE_LABELS = { plezi: 'fastify-plezi, connect only', 'plezi-presence': 'fastify-plezi, connect + track' }
const SHORT = {
  plezi: 'plezi',
  'plezi-deflate': 'plezi deflate',
  'plezi-auto': 'plezi auto',
  'plezi-request': 'plezi _EID_',
  'ws-frame-once': 'ws frame-once',
  'ws-deflate': 'ws deflate',
  'fastify-websocket': '@fastify/ws',
  'fastify-websocket-json': '@fastify/ws JSON',
  socketio: 'Socket.IO',
  'plezi-history': 'plezi history',
  'plezi-presence': 'plezi presence'
}
// The chart's legend: the subjects of the fan-out, echo and memory panels.
const LEGEND = ['plezi', 'plezi-auto', 'ws-frame-once', 'fastify-websocket', 'socketio']
const LOADGEN_SATURATED = 90

const fmt = (v, digits = 2) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—'
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US')
  return String(round(v, Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : digits))
}
const x = (v) => (typeof v === 'number' && Number.isFinite(v) ? `${round(v, 2).toFixed(2)}×` : '—')
const isOurs = (s) => s.startsWith('plezi')

function ratioOf (results, scenario, param, metric, ours, vs) {
  return results.ratios.find((r) => r.scenario === scenario && r.param === param && r.metric === metric && r.ours === ours && r.vs === vs)?.value
}

function table (header, rows) {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

function loadgenCell (pct) {
  return typeof pct === 'number' ? `${fmt(pct, 0)}${pct >= LOADGEN_SATURATED ? ' ⚠' : ''}` : '—'
}

function subjects (bySubject) {
  // ours first, then the alternatives in a fixed order
  return Object.keys(COLORS).filter((s) => bySubject[s])
}

function cellsOrError (slot, cells) {
  if (!slot.rounds) return [`failed: ${(slot.errors ?? ['no result'])[0].slice(0, 80)}`, ...cells.slice(1).map(() => '')]
  return cells
}

function statusCell (t) {
  if (t.status === 'no') return '**no**'
  return t.status ?? (t.met === null ? 'not measured' : t.met ? 'yes' : '**no**')
}

const clientsOf = (param) => Number(param).toLocaleString('en-US')

function atCell (t) {
  if (!t.param) return '—'
  return t.vsParam ? `${clientsOf(t.param)} vs ${clientsOf(t.vsParam)} connections` : `${clientsOf(t.param)} clients`
}

// A ratio (×), a yes/no, or a figure in its unit with what it is shown beside.
function figureCell (t) {
  if (t.kind === 'check') return t.value === null ? '—' : t.value ? 'yes, every round' : 'no'
  if (t.kind !== 'value') return x(t.value)
  if (typeof t.value !== 'number') return '—'
  const figure = `${fmt(t.value)} ${t.unit}`
  if (!t.beside) return figure
  const beside = typeof t.beside.value === 'number' ? `${fmt(t.beside.value)} ${t.unit} at ${clientsOf(t.beside.param)} clients` : 'not measured in this run'
  return `${figure} (${t.beside.text}: ${beside})`
}

function goalCell (t) {
  if (t.kind === 'check') return 'yes, every round'
  return t.max !== undefined ? `≤ ${t.max}×` : t.min !== undefined ? `≥ ${t.min}×` : 'report'
}

const yesNo = (v) => (v === true ? 'yes' : v === false ? '**no**' : '—')
const broadcastPerDelivery = (r) => {
  const byParam = r.summary.broadcast ?? {}
  const param = byParam['1000'] ? '1000' : Object.keys(byParam).sort((a, b) => Number(a) - Number(b))[0]
  const v = byParam[param]?.plezi?.serverCpuPerDeliveryUs
  return typeof v === 'number' ? `${fmt(v)} (${clientsOf(param)} clients)` : '—'
}

// One markdown section per scenario: medians, then "ours ÷ this" ratios.
const SECTIONS = {
  broadcast: {
    title: 'Broadcast: time until every client has the message (4 senders, 100 broadcasts, 200-byte padding)',
    columns: ['clients', 'server', 'p50 ms', 'p95 ms', 'max ms', 'server CPU µs / delivery', 'deliveries/s', 'load-gen CPU %', 'plezi ÷ this: CPU/delivery', 'plezi ÷ this: p95'],
    row: (r, param, s, v) => [param, LABELS[s], fmt(v.p50Ms), fmt(v.p95Ms), fmt(v.maxMs), fmt(v.serverCpuPerDeliveryUs), fmt(v.deliveredPerSec), loadgenCell(v.loadgenCpuPct),
      isOurs(s) ? '—' : x(ratioOf(r, 'broadcast', param, 'serverCpuPerDeliveryUs', 'plezi', s)), isOurs(s) ? '—' : x(ratioOf(r, 'broadcast', param, 'p95Ms', 'plezi', s))]
  },
  compression: {
    title: 'Compression: a 4 KB JSON message (chat history, compressible) broadcast to clients that all offered permessage-deflate (4 senders, threshold 1,024 bytes)',
    columns: ['clients', 'server', 'server CPU µs / delivery', 'bytes on the wire / delivery', 'compressed', 'RSS MB after the run', 'RSS KB / conn', 'p50 ms', 'p95 ms', 'deliveries/s', 'load-gen CPU %', 'plezi compression ÷ this: CPU/delivery', 'plezi compression ÷ this: RSS'],
    row: (r, param, s, v) => [param, LABELS[s], fmt(v.serverCpuPerDeliveryUs), fmt(v.wireBytesPerDelivery, 0), typeof v.compressedShare === 'number' ? `${Math.round(100 * v.compressedShare)} %` : '—',
      fmt(v.rssMB), fmt(v.rssPerConnKB), fmt(v.p50Ms), fmt(v.p95Ms), fmt(v.deliveredPerSec), loadgenCell(v.loadgenCpuPct),
      s === 'plezi-deflate' ? '—' : x(ratioOf(r, 'compression', param, 'serverCpuPerDeliveryUs', 'plezi-deflate', s)),
      s === 'plezi-deflate' ? '—' : x(ratioOf(r, 'compression', param, 'rssMB', 'plezi-deflate', s))]
  },
  echo: {
    title: 'Echo: ping-pong messages per second',
    columns: ['clients', 'server', 'messages/s', 'server CPU µs / message', 'load-gen CPU %', 'plezi ÷ this: msg/s', 'plezi auto ÷ this: msg/s', 'plezi ÷ this: CPU/msg', 'plezi auto ÷ this: CPU/msg'],
    row: (r, param, s, v) => [param, LABELS[s], fmt(v.messagesPerSec), fmt(v.serverCpuPerMessageUs), loadgenCell(v.loadgenCpuPct),
      ...(isOurs(s)
        ? ['—', '—', '—', '—']
        : [['messagesPerSec', 'plezi'], ['messagesPerSec', 'plezi-auto'], ['serverCpuPerMessageUs', 'plezi'], ['serverCpuPerMessageUs', 'plezi-auto']].map(([metric, ours]) => x(ratioOf(r, 'echo', param, metric, ours, s))))]
  },
  memory: {
    title: 'Memory per idle connection (after GC)',
    columns: ['connections', 'server', 'RSS KB / conn', 'heap KB / conn', 'RSS total MB', 'plezi ÷ this: RSS', 'plezi ÷ this: heap'],
    row: (r, param, s, v) => [param, LABELS[s], fmt(v.rssPerConnKB), fmt(v.heapPerConnKB), fmt(v.rssMB),
      isOurs(s) ? '—' : x(ratioOf(r, 'memory', param, 'rssPerConnKB', 'plezi', s)), isOurs(s) ? '—' : x(ratioOf(r, 'memory', param, 'heapPerConnKB', 'plezi', s))]
  },
  scaleout: {
    title: 'Scale-out: two server processes on one Redis, clients split, broadcasts from both',
    columns: ['clients', 'server', 'delivered msg/s', 'p50 ms', 'p95 ms', 'server CPU µs / delivery (both)', 'load-gen CPU %', 'plezi ÷ this: msg/s', 'plezi ÷ this: p95'],
    row: (r, param, s, v) => [param, LABELS[s] + (s === 'socketio' ? ' + redis-adapter' : ' + Redis'), fmt(v.deliveredPerSec), fmt(v.p50Ms), fmt(v.p95Ms), fmt(v.serverCpuPerDeliveryUs), loadgenCell(v.loadgenCpuPct),
      isOurs(s) ? '—' : x(ratioOf(r, 'scaleout', param, 'deliveredPerSec', 'plezi', s)), isOurs(s) ? '—' : x(ratioOf(r, 'scaleout', param, 'p95Ms', 'plezi', s))]
  },
  connect: {
    title: 'Connect rate: websocket upgrades per second (100 in flight)',
    columns: ['connections', 'server', 'upgrades/s', 'server CPU µs / upgrade', 'load-gen CPU %', 'plezi ÷ this: upgrades/s', 'plezi ÷ this: CPU/upgrade'],
    row: (r, param, s, v) => [param, LABELS[s], fmt(v.upgradesPerSec), fmt(v.serverCpuPerUpgradeUs), loadgenCell(v.loadgenCpuPct),
      isOurs(s) ? '—' : x(ratioOf(r, 'connect', param, 'upgradesPerSec', 'plezi', s)), isOurs(s) ? '—' : x(ratioOf(r, 'connect', param, 'serverCpuPerUpgradeUs', 'plezi', s))]
  },
  history: {
    title: 'History: broadcast on a channel that keeps history (in-process store) vs the same channel without (4 senders, 100 broadcasts, 200-byte padding)',
    columns: ['clients', 'channel', 'p50 ms', 'p95 ms', 'server CPU µs / delivery', 'deliveries/s', 'load-gen CPU %', 'history ÷ plain: CPU/delivery', 'history ÷ plain: deliveries/s'],
    row: (r, param, s, v) => [param, HISTORY_LABELS[s], fmt(v.p50Ms), fmt(v.p95Ms), fmt(v.serverCpuPerDeliveryUs), fmt(v.deliveredPerSec), loadgenCell(v.loadgenCpuPct),
      s === 'plezi' ? x(ratioOf(r, 'history', param, 'serverCpuPerDeliveryUs', 'plezi-history', s)) : '—', s === 'plezi' ? x(ratioOf(r, 'history', param, 'deliveredPerSec', 'plezi-history', s)) : '—']
  },
  'history-scaleout': {
    title: 'History, scale-out: two server processes on one Redis (history in Redis), clients split, broadcasts from both',
    columns: ['clients', 'channel', 'delivered msg/s', 'p50 ms', 'p95 ms', 'server CPU µs / delivery (both)', 'load-gen CPU %', 'history ÷ plain: msg/s', 'history ÷ plain: CPU/delivery'],
    row: (r, param, s, v) => [param, HISTORY_LABELS[s], fmt(v.deliveredPerSec), fmt(v.p50Ms), fmt(v.p95Ms), fmt(v.serverCpuPerDeliveryUs), loadgenCell(v.loadgenCpuPct),
      s === 'plezi' ? x(ratioOf(r, 'history-scaleout', param, 'deliveredPerSec', 'plezi-history', s)) : '—', s === 'plezi' ? x(ratioOf(r, 'history-scaleout', param, 'serverCpuPerDeliveryUs', 'plezi-history', s)) : '—']
  },
  'history-storm': {
    title: 'History, reconnect storm: the clients of a process killed with SIGKILL reconnect to the other one (Redis) with `_since_` and recover what was published meanwhile',
    columns: ['clients', 'messages each', 'all recovered (every round)', 'last message recovered after (ms)', 'of which connecting (ms)', 'server CPU (ms)', 'server CPU µs / recovered message'],
    row: (r, param, s, v) => [param, fmt(v.messages, 0), yesNo(v.allRecovered), fmt(v.recoveredInMs), fmt(v.reconnectMs), fmt(v.serverCpuMs), fmt(v.serverCpuPerRecoveredMessageUs)]
  },
  presence: {
    title: 'Presence churn: connect, track and disconnect vs connect and disconnect on the same server without presence (100 upgrades in flight)',
    columns: ['clients', 'server', 'server CPU µs / client', 'churn ms', 'load-gen CPU %', 'presence ÷ plain: CPU/client'],
    row: (r, param, s, v) => [param, PRESENCE_LABELS[s], fmt(v.serverCpuPerClientUs), fmt(v.churnMs), loadgenCell(v.loadgenCpuPct),
      s === 'plezi' ? x(ratioOf(r, 'presence', param, 'serverCpuPerClientUs', 'plezi-presence', s)) : '—']
  },
  'presence-storm': {
    title: 'Presence, join/leave storm: connections join and leave a room while others subscribe to its presence (diffs coalesced every 100 ms)',
    columns: ['connections', 'presence subscribers', 'diff frames delivered', 'diff frames / s', 'diffs / subscriber', 'storm ms', 'server CPU ms', 'server CPU µs / delivered diff', 'plain broadcast: server CPU µs / delivery', 'load-gen CPU %'],
    row: (r, param, s, v) => [param, fmt(v.watchers, 0), fmt(v.diffFrames), fmt(v.diffsPerSec), fmt(v.diffsPerWatcher), fmt(v.stormMs), fmt(v.serverCpuMs), fmt(v.serverCpuPerDiffUs), broadcastPerDelivery(r), loadgenCell(v.loadgenCpuPct)]
  },
  'presence-redis': {
    title: 'Presence on Redis: round trips per refresh period (one heartbeat per process, whatever its entries)',
    columns: ['connections', 'entries', 'refreshes measured', 'Redis round trips / refresh'],
    row: (r, param, s, v) => [param, fmt(v.entries, 0), fmt(v.refreshes, 0), fmt(v.roundTripsPerRefresh)]
  }
}

export function markdown (results) {
  const m = results.machine
  const rounds = results.config.rounds
  const out = [
    `### Benchmark results (${results.mode} mode, ${m.date.slice(0, 10)})`,
    '',
    `Machine: ${m.nproc} × ${m.cpu}, ${m.memoryGB} GB, Node.js ${m.node}, ${m.platform}; ${m.pinning}; load average (1/5/15 min) ${m.loadAvgAtStart.join(' / ')} at start, ${(results.loadAvgAtEnd ?? []).join(' / ')} at end (the machine is shared). ` +
      `Command: \`${results.command}\` (${results.durationS} s) at commit ${m.commit ?? '?'}. Figures are medians over ${rounds} interleaved round${rounds === 1 ? '' : 's'}; ` +
      'ratios are fastify-plezi ÷ the alternative (below 1 is better for times, CPU and memory; above 1 is better for rates). ' +
      `⚠ marks a load generator above ${LOADGEN_SATURATED}% of its core: there the client, not the server, set the pace.`,
    ''
  ]
  if (results.targets.length) {
    const quick = results.mode === 'quick'
    out.push('#### Targets', '')
    if (quick) {
      out.push('**Quick run: these figures are not comparable to the targets** (fewer clients, shorter phases, one round); ' +
        'the targets are judged on a full run (`npm run bench`).', '')
    }
    out.push(table(['target', 'at', 'ratio of medians (or figure)', 'median of per-round ratios', 'goal', 'met'], results.targets.map((t) => [
      t.text, atCell(t), figureCell(t), x(t.paired), goalCell(t), statusCell(t)
    ])), '')
  }
  for (const [scenario, section] of Object.entries(SECTIONS)) {
    const byParam = results.summary[scenario]
    if (!byParam) continue
    const rows = []
    for (const param of Object.keys(byParam).sort((a, b) => Number(a) - Number(b))) {
      for (const s of subjects(byParam[param])) {
        const slot = byParam[param][s]
        rows.push(cellsOrError(slot, section.row(results, param, s, slot)).map((c, i) => (i === 0 ? c : c)))
      }
    }
    out.push(`#### ${section.title}`, '', table(section.columns, rows), '')
  }
  if (results.notes.length) out.push('Notes:', '', ...results.notes.map((n) => `- ${n}`), '')
  return out.join('\n')
}

// ---------- SVG ----------

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceMax (v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

function axes (box, yMax, yLabel, title) {
  const { x0, y0, w, h } = box
  const parts = [`<text x="${x0}" y="${y0 - 12}" class="title">${esc(title)}</text>`]
  for (let i = 0; i <= 4; i++) {
    const y = y0 + h - (h * i) / 4
    parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" class="grid"/>`)
    parts.push(`<text x="${x0 - 6}" y="${y + 4}" class="tick" text-anchor="end">${esc(fmt((yMax * i) / 4))}</text>`)
  }
  parts.push(`<text transform="translate(${x0 - 46},${y0 + h / 2}) rotate(-90)" class="label" text-anchor="middle">${esc(yLabel)}</text>`)
  return parts
}

function lineChart (box, byParam, metric, yLabel, title) {
  const params = Object.keys(byParam ?? {}).sort((a, b) => Number(a) - Number(b))
  const series = Object.keys(COLORS).filter((s) => params.some((p) => typeof byParam[p][s]?.[metric] === 'number'))
  const yMax = niceMax(Math.max(0, ...params.flatMap((p) => series.map((s) => byParam[p][s]?.[metric] ?? 0))))
  const parts = axes(box, yMax, yLabel, title)
  if (params.length === 0) return [...parts, `<text x="${box.x0 + 10}" y="${box.y0 + box.h / 2}" class="label">not measured</text>`]
  const px = (i) => box.x0 + (params.length === 1 ? box.w / 2 : 30 + ((box.w - 60) * i) / (params.length - 1))
  const py = (v) => box.y0 + box.h - (box.h * v) / yMax
  params.forEach((p, i) => parts.push(`<text x="${px(i)}" y="${box.y0 + box.h + 16}" class="tick" text-anchor="middle">${Number(p).toLocaleString('en-US')}</text>`))
  parts.push(`<text x="${box.x0 + box.w / 2}" y="${box.y0 + box.h + 32}" class="label" text-anchor="middle">connected clients</text>`)
  for (const s of series) {
    const points = params.map((p, i) => [i, byParam[p][s]?.[metric]]).filter(([, v]) => typeof v === 'number')
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${COLORS[s]}" stroke-width="2" points="${points.map(([i, v]) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"/>`)
    for (const [i, v] of points) parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3.5" fill="${COLORS[s]}"><title>${esc(`${LABELS[s]}: ${fmt(v)}`)}</title></circle>`)
  }
  return parts
}

function barChart (box, bySubject, metrics, yLabel, title) {
  const names = Object.keys(COLORS).filter((s) => metrics.some(([m]) => typeof bySubject?.[s]?.[m] === 'number'))
  const yMax = niceMax(Math.max(0, ...names.flatMap((s) => metrics.map(([m]) => bySubject[s][m] ?? 0))))
  const parts = axes(box, yMax, yLabel, title)
  if (names.length === 0) return [...parts, `<text x="${box.x0 + 10}" y="${box.y0 + box.h / 2}" class="label">not measured</text>`]
  const slot = box.w / names.length
  const bw = Math.min(40, (slot * 0.7) / metrics.length)
  names.forEach((s, i) => {
    const cx = box.x0 + slot * (i + 0.5)
    metrics.forEach(([m, opacity], j) => {
      const v = bySubject[s][m]
      if (typeof v !== 'number') return
      const bh = (box.h * v) / yMax
      const bx = cx - (bw * metrics.length) / 2 + j * bw
      parts.push(`<rect x="${bx.toFixed(1)}" y="${(box.y0 + box.h - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLORS[s]}" fill-opacity="${opacity}"><title>${esc(`${LABELS[s]} ${m}: ${fmt(v)}`)}</title></rect>`)
      parts.push(`<text x="${(bx + bw / 2 - 1).toFixed(1)}" y="${(box.y0 + box.h - bh - 4).toFixed(1)}" class="value" text-anchor="middle">${esc(fmt(v))}</text>`)
    })
    parts.push(`<text x="${cx}" y="${box.y0 + box.h + 16}" class="tick" text-anchor="middle">${esc(SHORT[s])}</text>`)
  })
  return parts
}

export function svg (results) {
  const W = 1000
  const H = 1090
  const first = (byParam) => (byParam ? byParam[Object.keys(byParam).sort((a, b) => Number(a) - Number(b)).at(-1)] : undefined)
  const m = results.machine
  const legend = LEGEND.map((s, i) =>
    `<rect x="${60 + i * 185}" y="52" width="12" height="12" fill="${COLORS[s]}"/><text x="${78 + i * 185}" y="62" class="tick">${esc(LABELS[s])}</text>`)
  const memoryKey = Object.keys(results.summary.memory ?? {})[0]
  const echoKey = Object.keys(results.summary.echo ?? {})[0]
  const compressionKey = Object.keys(results.summary.compression ?? {}).sort((a, b) => Number(a) - Number(b)).at(-1)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#333}.label{font-size:12px;fill:#444}.value{font-size:10px;fill:#222}.grid{stroke:#e5e5e5}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="20" y="24" class="title">fastify-plezi benchmark — ${esc(results.mode)} mode, ${esc(m.date.slice(0, 10))}</text>`,
    `<text x="20" y="42" class="tick">${esc(`${m.nproc} × ${m.cpu}, Node.js ${m.node}; ${m.pinning}; medians of ${results.config.rounds} round(s)`)}</text>`,
    ...legend,
    ...lineChart({ x0: 80, y0: 110, w: 380, h: 220 }, results.summary.broadcast, 'p95Ms', 'p95 ms until every client has it', 'Broadcast p95 latency vs clients'),
    ...lineChart({ x0: 580, y0: 110, w: 380, h: 220 }, results.summary.broadcast, 'serverCpuPerDeliveryUs', 'server CPU µs per delivery', 'Broadcast server CPU per delivered message'),
    ...barChart({ x0: 80, y0: 440, w: 380, h: 220 }, first(results.summary.echo), [['messagesPerSec', 1]], 'messages / s', `Echo throughput (${echoKey ?? '?'} clients ping-pong)`),
    ...barChart({ x0: 580, y0: 440, w: 380, h: 220 }, first(results.summary.memory), [['rssPerConnKB', 1], ['heapPerConnKB', 0.45]], 'KB per connection', `Memory per idle connection (${memoryKey ? Number(memoryKey).toLocaleString('en-US') : '?'} open)`),
    `<text x="580" y="${440 + 220 + 36}" class="label">solid: RSS, light: V8 heap</text>`,
    ...barChart({ x0: 80, y0: 770, w: 380, h: 220 }, first(results.summary.compression), [['serverCpuPerDeliveryUs', 1]], 'server CPU µs per delivery', `Compressed 4 KB broadcast (${compressionKey ? Number(compressionKey).toLocaleString('en-US') : '?'} clients)`),
    ...barChart({ x0: 580, y0: 770, w: 380, h: 220 }, first(results.summary.compression), [['rssMB', 1]], 'RSS MB after the run', 'Server memory with every client compressing'),
    '</svg>'
  ]
  return parts.join('\n') + '\n'
}

export function writeReport (results, dir) {
  const md = markdown(results)
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n')
  writeFileSync(join(dir, 'latest.md'), md + '\n')
  writeFileSync(join(dir, 'latest.svg'), svg(results))
  return { markdown: md }
}
