// A method named almost like a hook (`onMesage`, `onopen`, Plezi's Ruby `on_message`) is not a
// hook: the hook its author meant never runs, and the method becomes a public event instead.
// The rule: equal to a reserved name once case and underscores are ignored, or one edit away
// from it (a letter added, dropped, changed, or two neighbours swapped).

const fold = (name: string): string => name.toLowerCase().replaceAll('_', '')

/** The reserved name (a hook, `unknown`) that `name` nearly spells, or undefined. */
export function lookalikeOf (name: string, reserved: readonly string[]): string | undefined {
  const folded = fold(name)
  return reserved.find((original) => name !== original && withinOneEdit(folded, fold(original)))
}

/** Whether `a` and `b` differ by at most one insertion, deletion, substitution or transposition. */
export function withinOneEdit (a: string, b: string): boolean {
  if (a.length < b.length) [a, b] = [b, a]
  if (a.length - b.length > 1) return false
  let i = 0
  while (i < b.length && a[i] === b[i]) i++
  if (i === a.length) return true // equal
  if (a.length > b.length) return a.slice(i + 1) === b.slice(i) // one letter more in a
  return a.slice(i + 1) === b.slice(i + 1) || // one letter changed
    (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2)) // two swapped
}
