/** A trace directory that cannot be written or read as asked (missing, truncated, corrupt, unknown version). */
export class TraceError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
    this.name = 'TraceError';
  }
}
