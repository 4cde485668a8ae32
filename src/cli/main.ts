// The `trace` command: one file per subcommand under src/cli, each exporting `register(program)`.
import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { register as analyze } from './analyze.js';
import { register as ebpf } from './ebpf.js';
import { register as exportCmd } from './export.js';
import { register as info } from './info.js';
import { register as record } from './record.js';
import { register as replay } from './replay.js';
import { register as report } from './report.js';
import { register as workloads } from './workloads.js';


// One line per subcommand module; each exports `register(program: Command): void`.
const subcommands: Array<(program: Command) => void> = [record, replay, info, workloads, analyze, report, exportCmd, ebpf];

export function buildProgram(): Command {
  const program = new Command('trace')
    .description('vmtrace: record, replay and analyse VM-exit traces of an emulated VT-x machine')
    .showHelpAfterError()
    .exitOverride();
  for (const register of subcommands) register(program);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`trace: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`trace: internal error: ${message}\n`);
    if (process.env.VMTRACE_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = 70;
  }
}
