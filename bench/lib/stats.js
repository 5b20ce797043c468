// Small statistics helpers: nearest-rank percentiles and medians.

export function percentile (values, p) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export function median (values) {
  const list = values.filter((v) => typeof v === 'number' && Number.isFinite(v))
  if (list.length === 0) return null
  const sorted = [...list].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function ratio (ours, theirs) {
  if (typeof ours !== 'number' || typeof theirs !== 'number' || theirs === 0) return null
  return ours / theirs
}

export function round (value, digits = 3) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value ?? null
  const f = 10 ** digits
  return Math.round(value * f) / f
}
