import { UserError } from '../cli/errors.js';
import type { TraceReader } from '../record/TraceReader.js';
import type { AnalysisResult } from './result.js';

export function exitsByProcess(_reader: TraceReader, _title: string): AnalysisResult {
  throw new UserError('exits --by process: not implemented yet');
}
