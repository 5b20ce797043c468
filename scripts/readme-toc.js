// Writes the README's table of contents (## and ### headings, GitHub anchors) between the
// <!-- toc --> markers: `node scripts/readme-toc.js` (test/readme.test.ts checks it is current).
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const START = '<!-- toc -->'
const END = '<!-- tocstop -->'

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export function tableOfContents (markdown) {
  const seen = new Map()
  const lines = []
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const match = !fenced && /^(##|###) (.+)$/.exec(line)
    if (!match) continue
    const title = match[2].trim()
    let anchor = title.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
    const count = seen.get(anchor) ?? 0
    seen.set(anchor, count + 1)
    if (count > 0) anchor += `-${count}`
    const text = title.replace(/`/g, '')
    lines.push(`${match[1] === '###' ? '  ' : ''}- [${text}](#${anchor})`)
  }
  return lines.join('\n')
}

export function withToc (markdown) {
  const start = markdown.indexOf(START)
  const end = markdown.indexOf(END)
  if (start === -1 || end === -1) throw new Error(`README.md has no ${START} … ${END} markers`)
  const body = markdown.slice(end)
  return `${markdown.slice(0, start)}${START}\n${tableOfContents(body)}\n${markdown.slice(end)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = new URL('../README.md', import.meta.url)
  writeFileSync(file, withToc(readFileSync(file, 'utf8')))
}
