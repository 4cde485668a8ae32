/** Print one headline figure on a line of its own, in the form every issue asks for. */
export function figure(name: string, value: number, unit: string): void {
  const shown = Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toPrecision(3);
  process.stdout.write(`FIGURE ${name} ${shown} ${unit}\n`);
}
