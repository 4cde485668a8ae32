// `trace analyze <dir> <analysis> [options]`: run one analysis of the registry (src/analyses/index.ts) over
// a trace directory and print its tables (text), or JSON (--format json), and/or write them as Arrow files
// (--out dir). Every analysis's options are declared on this command; an option that belongs to another
// analysis than the one asked for is an error.

import { Command, Option } from 'commander';
import { TraceError, UserError } from '../errors.js';
import { ANALYSES, analysisNames } from '../analyses/index.js';
import { formatJson, formatResult, writeArrowTables } from '../analyses/output.js';
import { optionKey, type AnalysisContext, type AnalysisResult, type OptionValues } from '../analyses/result.js';
import { stageProgress } from './progress.js';

const FORMATS = ['table', 'json'] as const;

export interface AnalyzeOutput {
  format?: 'table' | 'json';
  out?: string;
}

/** Run an analysis by name (the CLI's path, also for tests): UserError for unknown analyses and bad traces. */
export async function runAnalysis(dir: string, name: string, options: OptionValues = {}, context: AnalysisContext = {}): Promise<AnalysisResult> {
  const a = ANALYSES[name];
  if (!a) throw new UserError(`unknown analysis "${name}" (analyses: ${analysisNames().join(', ')})`);
  try {
    return await a.run(dir, options, context);
  } catch (e) {
    if (e instanceof TraceError) throw new UserError(e.message);
    throw e;
  }
}

/** Options of every analysis by key, with the analyses that declare it; checks that shared flags agree. */
function declaredOptions(): Map<string, { flags: string; description: string; choices?: readonly string[]; defaultText?: string; owners: string[] }> {
  const m = new Map<string, { flags: string; description: string; choices?: readonly string[]; defaultText?: string; owners: string[] }>();
  for (const a of Object.values(ANALYSES)) {
    for (const o of a.options) {
      const key = optionKey(o.flags);
      const seen = m.get(key);
      if (seen) {
        if (seen.flags !== o.flags) throw new Error(`analyses ${seen.owners.join(', ')} and ${a.name} declare --${key} differently`);
        seen.owners.push(a.name);
      } else m.set(key, { ...o, owners: [a.name] });
    }
  }
  return m;
}

export function register(program: Command): void {
  const opts = declaredOptions();
  const cmd = program
    .command('analyze')
    .description(`analyse a trace: ${analysisNames().map((n) => `${n} (${ANALYSES[n]!.description})`).join('; ')}`)
    .argument('<dir>', 'trace directory')
    .argument('<analysis>', `one of: ${analysisNames().join(', ')}`)
    .addOption(new Option('--format <format>', 'stdout format').choices(FORMATS).default('table'))
    .option('--out <dir>', 'also write every result table as <dir>/<table>.arrow (Arrow IPC file)')
    .option('--quiet', 'print nothing on stdout (with --out)')
    .option('--no-verify', 'do not check the trace files against the checksums in its manifest (faster; damage may go unnoticed)');
  for (const [, o] of opts) {
    const opt = new Option(o.flags, `[${o.owners.join(', ')}] ${o.description}${o.defaultText !== undefined ? ` (default: ${o.defaultText})` : ''}`);
    if (o.choices) opt.choices(o.choices);
    cmd.addOption(opt);
  }
  cmd.action(async (dir: string, name: string, raw: Record<string, unknown>, self: Command) => {
    const a = ANALYSES[name];
    if (!a) throw new UserError(`unknown analysis "${name}" (analyses: ${analysisNames().join(', ')})`);
    const values: Record<string, string | boolean | undefined> = {};
    for (const [key, o] of opts) {
      if (self.getOptionValueSource(key) !== 'cli') continue;
      if (!o.owners.includes(name)) throw new UserError(`option ${o.flags.split(/[ ,]/)[0]} is for ${o.owners.join(', ')}, not ${name}`);
      values[key] = raw[key] as string | boolean;
    }
    if (raw.verify === false) values.verify = false;
    const progress = stageProgress();
    let result: AnalysisResult;
    try {
      result = await runAnalysis(dir, name, values, { progress });
    } finally {
      progress.done();
    }
    if (typeof raw.out === 'string') {
      const paths = writeArrowTables(result, name, raw.out);
      if (!raw.quiet) process.stderr.write(`wrote ${paths.join(', ')}\n`);
    }
    if (raw.quiet) return;
    process.stdout.write(raw.format === 'json' ? formatJson(result) : formatResult(result));
  });
}
