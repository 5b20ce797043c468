// Type tests for EventsOf and ControllerHooks: test/types-events/*.ts, and the README's
// "one event map" example as written, under strict and noImplicitOverride. Every
// `// @ts-expect-error NNNN why` must fail for the reason it names: compiled once with the
// directives turned into plain comments, each must have error NNNN (any error, in the README)
// on the line below it, and no other line may have an error. (That also proves the files
// compile as written, with every directive used.) Only these files are checked: lib/ and
// client/ are type-checked by `npm run typecheck`, the shipped .d.ts without skipLibCheck by
// package.test.ts.
import t from 'tap'
import ts from 'typescript'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const dir = fileURLToPath(new URL('./types-events/', import.meta.url))
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))

// The README's server and front-end blocks, as files beside the fixtures that import our sources.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
const block = (first: string): string => {
  const code = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((c) => c.startsWith(first))
  if (code === undefined) throw new Error(`README.md has no ts block starting with ${first}`)
  return code.replaceAll("from 'fastify-plezi'", "from '../../lib/index.js'")
    .replaceAll("from 'fastify-plezi/client'", "from '../../client/index.js'")
    .replaceAll("from './chat.js'", "from './readme-chat.js'")
}
const virtual = new Map([
  [join(dir, 'readme-chat.ts'), block('// chat.ts: the server')],
  [join(dir, 'readme-front.ts'), block('// front end')]
])
const files = [...fixtures, ...virtual.keys()]
const options: ts.CompilerOptions = {
  strict: true,
  noImplicitOverride: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node']
}
const DIRECTIVE = /\/\/ @ts-expect-error(?: (\d{4,5})\b)?/

interface Expected { file: string, line: number, code: number | undefined }

function expectations (): Expected[] {
  return files.flatMap((file) => (virtual.get(file) ?? readFileSync(file, 'utf8')).split('\n').flatMap((text, i) => {
    const match = DIRECTIVE.exec(text)
    return match ? [{ file, line: i + 1, code: match[1] === undefined ? undefined : Number(match[1]) }] : []
  }))
}

/** The fixtures' diagnostics, with the directives turned into plain comments. */
function compile (): Array<{ file: string, line: number, code: number, text: string }> {
  const host = ts.createCompilerHost(options)
  const read = host.readFile.bind(host)
  const exists = host.fileExists.bind(host)
  host.fileExists = (name) => virtual.has(name) || exists(name)
  host.readFile = (name) => {
    const text = virtual.get(name) ?? read(name)
    return text !== undefined && files.includes(name) ? text.replaceAll('@ts-expect-error', 'expected error:') : text
  }
  const program = ts.createProgram(files, options, host)
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...files.flatMap((file) => {
      const source = program.getSourceFile(file)
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
    })
  ]
  return diagnostics.map((d) => {
    const file = d.file?.fileName ?? '(global)'
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
    return { file, line, code: d.code, text: `${file.replace(dir, '')}:${line} TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` }
  })
}

t.test('each @ts-expect-error fails for the reason it names, and nothing else fails', async (t) => {
  t.ok(fixtures.length >= 2, `fixtures: ${files.map((f) => f.replace(dir, '')).join(', ')}`)
  const expected = expectations()
  t.ok(expected.length >= 15, `${expected.length} expected errors`)
  t.same(expected.filter((e) => e.code === undefined && fixtures.includes(e.file)).map((e) => `${e.file.replace(dir, '')}:${e.line}`), [],
    'each @ts-expect-error names the error code it expects')
  const found = compile()
  for (const { file, line, code } of expected) {
    const at = found.filter((d) => d.file === file && d.line === line + 1)
    t.ok(at.some((d) => code === undefined || d.code === code), `${file.replace(dir, '')}:${line + 1} fails${code === undefined ? '' : ` with TS${code}`}`, { found: at.map((d) => d.text) })
  }
  const elsewhere = found.filter((d) => !expected.some((e) => e.file === d.file && e.line + 1 === d.line))
  t.same(elsewhere.map((d) => d.text), [], 'no errors on other lines')
})
