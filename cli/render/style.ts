/** Colour only for a terminal, and never when NO_COLOR is set (no-color.org). */
const enabled = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";

function paint(code: number, stream: NodeJS.WriteStream) {
  return (text: string) => (enabled(stream) ? `\u001b[${code}m${text}\u001b[0m` : text);
}

export const style = (stream: NodeJS.WriteStream = process.stdout) => ({
  bold: paint(1, stream),
  dim: paint(2, stream),
  red: paint(31, stream),
  green: paint(32, stream),
  yellow: paint(33, stream),
});
