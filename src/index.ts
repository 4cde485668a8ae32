// Public surface of vmtrace (one entry point, flechette-style).
export {};
