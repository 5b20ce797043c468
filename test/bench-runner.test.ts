// The benchmark runner's reporting (not its figures): progress with the time left, and targets
// judged only by a run that measured them at their size with the full phases.
import t from 'tap'

interface Item { scenario: string, subject: string, params: Record<string, number> }
interface ProgressLike {
  start (): void
  done (item: Item, ms: number): void
  skipped (item: Item): void
  estimateLeft (): number
}
interface Target { issue: number, kind: string, scenario: string, at: number, text: string, value: number | boolean | null, status: string, met: boolean | null, max?: number, min?: number }
interface Summary { summary: Record<string, unknown>, ratios: unknown[], targets: Target[] }

// bench/ is plain JavaScript outside the package: loaded by URL, typed here by what we use
const load = async (path: string): Promise<any> => await import(new URL(path, import.meta.url).href)
const { Progress, formatDuration } = await load('../bench/lib/progress.js') as {
  Progress: new (list: Item[], opts: { started: number, deadline: number, log: (line: string) => void, now: () => number }) => ProgressLike
  formatDuration: (ms: number) => string
}
const { summarize } = await load('../bench/lib/summary.js') as { summarize: (cases: unknown[], opts?: { quick?: boolean }) => Summary }
const { markdown, svg } = await load('../bench/report.js') as { markdown: (results: unknown) => string, svg: (results: unknown) => string }

t.test('progress: cases done and the time left, from what was measured', async (t) => {
  let now = 0
  const lines: string[] = []
  const item = (scenario: string, subject: string, clients: number): Item => ({ scenario, subject, params: { clients } })
  const list = [item('broadcast', 'plezi', 1000), item('broadcast', 'ws-frame-once', 1000), item('broadcast', 'plezi', 1000), item('memory', 'plezi', 2000)]
  const progress = new Progress(list, { started: 0, deadline: 3_600_000, log: (line) => lines.push(line), now: () => now })
  progress.start()
  t.match(lines[0], /^bench: 4 cases, about \d+ s \(estimate\)$/)
  now = 20_000
  progress.done(list[0], 20_000) // 4 times slower than its prior: the others are scaled too
  t.match(lines[1], /^bench: 1\/4 cases \(25 %\) after broadcast plezi; 20 s elapsed, about \d+ s left$/)
  const left = progress.estimateLeft()
  t.ok(left >= 20_000 + 10_000, `a case measured before counts as long again, the unseen ones scaled up (${left} ms)`)
  progress.done(list[1], 5_000)
  progress.skipped(list[2])
  now = 40_000
  progress.done(list[3], 15_000)
  t.match(lines.at(-1), /^bench: 4\/4 cases \(100 %\) after memory plezi; 40 s elapsed, done$/)
  t.equal(formatDuration(125_000), '2 min 05 s')
  t.equal(formatDuration(3_725_000), '1 h 02 min')
  const late = new Progress(list, { started: 0, deadline: 10_000, log: () => {}, now: () => 8_000 })
  t.equal(late.estimateLeft(), 2_000, 'never past the run\'s deadline')
})

// One round of the compression scenario at `clients`, CPU per delivery as given.
function compressionCases (clients: number, cpu: Record<string, number>): unknown[] {
  return Object.entries(cpu).map(([subject, us]) => ({
    scenario: 'compression',
    round: 1,
    subject,
    params: { clients },
    result: { clients, serverCpuPerDeliveryUs: us, wireBytesPerDelivery: subject === 'plezi' ? 4008 : 1321, rssMB: subject === 'ws-deflate' ? 1200 : 130, compressedShare: subject === 'plezi' ? 0 : 1 }
  }))
}

function results (mode: string, summary: Summary): unknown {
  return {
    command: 'npm run bench',
    mode,
    machine: { nproc: 2, cpu: 'test', memoryGB: 1, node: 'v20', platform: 'linux', loadAvgAtStart: [1, 1, 1], pinning: 'none', date: '2026-12-01T00:00:00Z', commit: 'abc' },
    config: { rounds: 1 },
    durationS: 1,
    loadAvgAtEnd: [1, 1, 1],
    notes: [],
    ...summary
  }
}

t.test('targets: judged only at their size in a full run; a quick run says it is not comparable', async (t) => {
  const cpu = { 'plezi-deflate': 10, 'ws-deflate': 50, plezi: 9 } // 0.2× ws: misses the 0.1× target
  const byText = (s: Summary, text: RegExp): Target => s.targets.find((x) => text.test(x.text) && x.scenario === 'compression')!

  const full = summarize(compressionCases(5000, cpu))
  const vsWs = byText(full, /CPU per delivery vs ws perMessageDeflate/)
  t.same([vsWs.status, vsWs.met], ['no', false], 'a full run at the target size judges it')
  t.equal(byText(full, /vs our uncompressed/).status, 'yes')
  t.equal(byText(full, /bytes on the wire per delivery vs uncompressed/).status, 'reported', 'a figure without a goal is reported')
  t.equal(full.targets.find((x) => x.scenario === 'scaleout')!.status, 'not measured')
  const fullMd = markdown(results('full', full))
  t.match(fullMd, /\| compressed broadcast server CPU per delivery vs ws perMessageDeflate \| 5,000 clients \| 0\.20× \| 0\.20× \| ≤ 0\.1× \| \*\*no\*\* \|/)

  const quick = summarize(compressionCases(1000, cpu), { quick: true })
  t.notOk(quick.targets.some((x) => x.met !== null), 'nothing judged in a quick run')
  t.ok(quick.targets.filter((x) => x.value !== null && (x.max !== undefined || x.min !== undefined)).every((x) => x.status === 'quick run: not comparable'))
  const quickMd = markdown(results('quick', quick))
  t.match(quickMd, /Quick run: these figures are not comparable to the targets/)
  t.notMatch(quickMd, /\*\*no\*\*/, 'no "no" against a target')
  t.match(svg(results('quick', quick)), /Compressed 4 KB broadcast \(1,000 clients\)/, 'the chart has the compression panels')

  const small = summarize(compressionCases(200, cpu))
  t.equal(byText(small, /CPU per delivery vs ws perMessageDeflate/).status, 'not comparable (target at 5,000)', 'a full run at another size is not judged either')
})

// One case: `scenario` run on `subject` at `clients` in `round`, with these result figures (or an error).
function oneCase (scenario: string, subject: string, clients: number, result: Record<string, unknown> | null, round = 1): unknown {
  return result === null
    ? { scenario, round, subject, params: { clients }, error: 'stalled' }
    : { scenario, round, subject, params: { clients }, result: { clients, ...result } }
}

const target = (s: Summary, scenario: string, text: RegExp): Target => s.targets.find((x) => x.scenario === scenario && text.test(x.text))!

t.test('history and presence targets: ratios against the same server without the feature', async (t) => {
  const cases = [
    oneCase('history', 'plezi', 5000, { serverCpuPerDeliveryUs: 5 }),
    oneCase('history', 'plezi-history', 5000, { serverCpuPerDeliveryUs: 6 }), // 1.2×: misses ≤ 1.1×
    oneCase('history-scaleout', 'plezi', 5000, { deliveredPerSec: 100_000 }),
    oneCase('history-scaleout', 'plezi-history', 5000, { deliveredPerSec: 90_000 }),
    oneCase('presence', 'plezi', 5000, { serverCpuPerClientUs: 200 }),
    oneCase('presence', 'plezi-presence', 5000, { serverCpuPerClientUs: 240 })
  ]
  const full = summarize(cases)
  t.same([target(full, 'history', /history channel vs/).status, target(full, 'history', /history channel vs/).met], ['no', false])
  t.equal(target(full, 'history-scaleout', /delivered msg\/s/).status, 'yes')
  t.equal(target(full, 'presence', /track/).status, 'yes')
  t.match(markdown(results('full', full)), /\| broadcast server CPU per delivery, history channel vs the same without history \(in-process store\) \| 5,000 clients \| 1\.20× \| 1\.20× \| ≤ 1\.1× \| \*\*no\*\* \|/)
  t.match(markdown(results('full', full)), /#### History: broadcast on a channel that keeps history/, 'the history section')
  const quick = summarize(cases, { quick: true })
  for (const scenario of ['history', 'history-scaleout', 'presence']) {
    const row = quick.targets.find((x) => x.scenario === scenario)!
    t.same([row.status, row.met], ['quick run: not comparable', null], `${scenario}: not judged in a quick run`)
  }
})

t.test('a yes/no target: met only if it held in every round, judged like the others', async (t) => {
  const storm = (allRecovered: boolean | null, round: number, clients = 5000): unknown =>
    oneCase('history-storm', 'plezi-history', clients, allRecovered === null ? null : { allRecovered, recoveredInMs: 800 + round, serverCpuMs: 700 }, round)
  const recovered = /every client of a killed process recovers/
  const yes = summarize([storm(true, 1), storm(true, 2), storm(true, 3)])
  t.same([target(yes, 'history-storm', recovered).kind, target(yes, 'history-storm', recovered).status, target(yes, 'history-storm', recovered).met], ['check', 'yes', true])
  t.match(markdown(results('full', yes)), /\| reconnect storm: every client of a killed process recovers its 100 messages from the other \| 5,000 clients \| yes, every round \| — \| yes, every round \| yes \|/)
  t.equal(target(summarize([storm(true, 1), storm(false, 2), storm(true, 3)]), 'history-storm', recovered).status, 'no', 'one round without is a no')
  t.equal(target(summarize([storm(true, 1), storm(null, 2)]), 'history-storm', recovered).status, 'no', 'a round that failed is a no')
  const quick = summarize([storm(true, 1, 500)], { quick: true })
  t.same([target(quick, 'history-storm', recovered).status, target(quick, 'history-storm', recovered).met], ['quick run: not comparable', null])
  t.equal(target(summarize([storm(true, 1, 500)]), 'history-storm', recovered).status, 'not comparable (target at 5,000)')
  const time = target(yes, 'history-storm', /time from the first reconnect/)
  t.same([time.kind, time.value, time.status], ['value', 802, 'reported'], 'a figure without a goal: the median, reported')
  t.match(markdown(results('quick', quick)), /\| reconnect storm: time from the first reconnect to the last recovered message \| 500 clients \| 801 ms \| — \| report \| reported \|/)
  t.equal(target(summarize([]), 'history-storm', recovered).status, 'not measured')
})

t.test('"must not grow": the same figure at the target\'s size against the smaller one', async (t) => {
  const trips = (small: number, large: number, at = 5000): unknown[] => [
    oneCase('presence-redis', 'plezi-presence', 10, { roundTripsPerRefresh: small }),
    oneCase('presence-redis', 'plezi-presence', at, { roundTripsPerRefresh: large })
  ]
  const grow = /must not grow/
  const flat = summarize(trips(1, 1))
  t.same([target(flat, 'presence-redis', grow).value, target(flat, 'presence-redis', grow).status], [1, 'yes'])
  t.match(markdown(results('full', flat)), /\| Redis round trips per presence refresh period: must not grow with connections \| 5,000 vs 10 connections \| 1\.00× \| 1\.00× \| ≤ 1× \| yes \|/)
  t.equal(target(summarize(trips(1, 1.5)), 'presence-redis', grow).status, 'no', 'more round trips with more connections')
  t.equal(target(summarize(trips(1, 1, 1000), { quick: true }), 'presence-redis', grow).status, 'quick run: not comparable')
  t.equal(target(summarize(trips(1, 1, 2000)), 'presence-redis', grow).status, 'not comparable (target at 5,000 vs 10)')
  t.equal(target(summarize([trips(1, 1)[1]]), 'presence-redis', grow).status, 'not measured', 'one size only: nothing to compare')
})

t.test('a reported figure shown beside another scenario\'s', async (t) => {
  const storm = oneCase('presence-storm', 'plezi-presence', 2000, { diffsPerSec: 9000, serverCpuPerDiffUs: 25, watchers: 1000, diffFrames: 20_000 })
  const broadcast = oneCase('broadcast', 'plezi', 1000, { serverCpuPerDeliveryUs: 9.8 })
  const both = summarize([storm, broadcast], { quick: true })
  const perDiff = target(both, 'presence-storm', /per delivered diff/)
  t.equal(perDiff.status, 'reported', 'no goal: reported in a quick run too')
  const md = markdown(results('quick', both))
  t.match(md, /\| join\/leave storm: server CPU per delivered diff \(the joins and leaves included\) \| 2,000 clients \| 25 µs \(plain broadcast per delivery: 9\.8 µs at 1,000 clients\) \| — \| report \| reported \|/)
  t.match(md, /\| 2000 \| 1,000 \| 20,000 \| 9,000 \| — \| — \| — \| 25 \| 9\.8 \(1,000 clients\) \| — \|/, 'the storm\'s section shows the plain broadcast beside it')
  t.match(markdown(results('quick', summarize([storm], { quick: true }))), /25 µs \(plain broadcast per delivery: not measured in this run\)/)
})
