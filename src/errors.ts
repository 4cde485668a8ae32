// The error types every layer may throw (src/errors.ts is below all layers: scripts/layers.mts). The CLI
// prints them as one line with no stack trace; anything else reaching the CLI is a bug and keeps its stack.

/** A failure the user caused or can fix (bad option, unknown workload or preset, ...): printed as one line. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}

/** A trace directory that cannot be written or read as asked (missing, truncated, corrupt, unknown version). */
export class TraceError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
    this.name = 'TraceError';
  }
}
