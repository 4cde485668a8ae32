/** Guest-kernel introspection could not read what it needs (malformed BTF, no kallsyms tables, bad image). */
export class IntrospectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntrospectionError';
  }
}
