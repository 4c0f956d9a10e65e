// Type-checks every fenced ```ts example in the JSDoc comments of src/**/*.ts.
//
// Each example becomes a module in .tmp/doc-examples/ (gitignored) that imports "effect-throttles" — resolved to
// src/ through the tsconfig `paths` — and all of them are checked in ONE `tsc` run. Errors are reported at the
// source comment's file:line (and the generated file's name, to open it). Exit 1 on any error.
//
// An example that must not be checked (pseudo-code) is fenced as ```ts no-check — use it sparingly.
//
// Usage: npm run check:docs   (tsx scripts/check-doc-examples.ts)
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const outDir = join(root, ".tmp", "doc-examples")

interface Example {
  /** Source file, relative to the repository root. */
  readonly file: string
  /** 1-based line in the source of the example's first code line. */
  readonly line: number
  readonly code: string
  /** Generated module name. */
  readonly module: string
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })

/** The fenced ```ts blocks inside `/** ... *\/` comments, with the line of their first code line. */
const extract = (path: string): Array<Example> => {
  const file = relative(root, path)
  const lines = readFileSync(path, "utf8").split("\n")
  const examples: Array<Example> = []
  let inComment = false
  let block: { start: number; lines: Array<string>; checked: boolean } | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ""
    if (!inComment) {
      if (/^\s*\/\*\*/.test(line) && !line.includes("*/")) inComment = true
      continue
    }
    if (line.includes("*/") && block === undefined) {
      inComment = false
      continue
    }
    // Strip the comment's leading " * " (keep the indentation that follows it).
    const text = line.replace(/^\s*\*( |$)/, "")
    const fence = /^```(\S*)\s*(.*)$/.exec(text.trim())
    if (block === undefined) {
      if (fence !== null && /^(ts|typescript)$/.test(fence[1] ?? "")) {
        block = { start: i + 2, lines: [], checked: !(fence[2] ?? "").includes("no-check") }
      }
      continue
    }
    if (fence !== null && fence[1] === "") {
      if (block.checked) {
        const base = file.replace(/^src\//, "").replace(/\.ts$/, "").replace(/[^A-Za-z0-9]+/g, "_")
        examples.push({ file, line: block.start, code: block.lines.join("\n"), module: `${base}_L${block.start}.ts` })
      }
      block = undefined
      continue
    }
    block.lines.push(text)
  }
  return examples
}

const examples = sourceFiles(join(root, "src")).sort().flatMap(extract)

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
for (const example of examples) {
  // `export {}` keeps every example a module of its own (no clashes between examples' top-level names); it is
  // appended, so the generated line numbers match the source's.
  writeFileSync(join(outDir, example.module), `${example.code}\nexport {}\n`)
}
writeFileSync(
  join(outDir, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../../tsconfig.json",
      compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false },
      include: ["./*.ts"]
    },
    null,
    2
  )
)

const tsc = join(root, "node_modules", ".bin", "tsc")
const runTsc = (): string => {
  const result = spawnSync(tsc, ["-p", join(outDir, "tsconfig.json"), "--pretty", "false"], {
    cwd: root,
    encoding: "utf8"
  })
  if (result.error !== undefined) throw result.error
  return `${result.stdout ?? ""}${result.stderr ?? ""}`
}
const ERROR_LINE = /^(?:.*[\\/])?([^\\/(]+\.ts)\((\d+),(\d+)\): (.*)$/

// tsc reports only syntax errors while any file has one. So when some example does not even parse, its errors
// are kept, it is blanked out, and tsc runs once more for the type errors of the others.
let output = runTsc()
const syntaxFailures = new Set(
  output.split("\n").flatMap((line) => {
    const match = ERROR_LINE.exec(line)
    return match !== null && / error TS1\d{3}:/.test(` ${match[4]}`) ? [match[1] ?? ""] : []
  })
)
if (syntaxFailures.size > 0) {
  for (const module of syntaxFailures) writeFileSync(join(outDir, module), "export {}\n")
  const kept = output.split("\n").filter((line) => syntaxFailures.has(ERROR_LINE.exec(line)?.[1] ?? ""))
  output = `${kept.join("\n")}\n${runTsc()}`
}

// Map ".tmp/doc-examples/Throttle_L123.ts(4,7): error TS..." back to "src/Throttle.ts:126:7".
const byModule = new Map(examples.map((example) => [example.module, example]))
const failed = new Set<Example>()
const report: Array<string> = []
for (const line of output.split("\n")) {
  const match = ERROR_LINE.exec(line)
  const example = match === null ? undefined : byModule.get(match[1] ?? "")
  if (match === null || example === undefined) {
    if (line.trim() !== "") report.push(line)
    continue
  }
  failed.add(example)
  const sourceLine = example.line + Number(match[2]) - 1
  report.push(`${example.file}:${sourceLine}:${match[3]} ${match[4]}  [.tmp/doc-examples/${example.module}]`)
}

if (report.length > 0) process.stdout.write(`${report.join("\n")}\n`)
if (report.length > 0) {
  process.stdout.write(
    `\ndoc examples: ${failed.size} of ${examples.length} fail to type-check` +
      `${failed.size === 0 ? " (tsc failed: see above)" : ""}\n`
  )
  process.exit(1)
}
process.stdout.write(`doc examples: all ${examples.length} type-check\n`)
