// How error messages name a value they refuse.

/** A short description of a value, for error messages: `the string "x"`, `an array`, … */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  if (typeof value === 'number') return `the number ${value}`
  return `a value of type ${typeof value}`
}
