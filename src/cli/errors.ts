/** A failure the user caused or can fix (bad option, missing trace, ...): printed as one line, no stack trace. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
