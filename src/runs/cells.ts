/**
 * Which cell of a notebook produced a tracked run: the run keeps the cell's body (what
 * follows the `%%track` line), so the cell is the one whose body matches it.
 */
export function findTrackedCell(sources: string[], cellSource: string): number {
  const wanted = normalise(cellSource);
  if (!wanted) {
    return -1;
  }
  const exact = sources.findIndex(source => normalise(body(source)) === wanted);
  if (exact >= 0) {
    return exact;
  }
  // The cell was edited since: fall back to the tracked cell that shares most lines.
  const lines = new Set(wanted.split('\n'));
  let best = -1;
  let bestScore = 0;
  sources.forEach((source, index) => {
    if (!source.trimStart().startsWith('%%track')) {
      return;
    }
    const score = normalise(body(source))
      .split('\n')
      .filter(line => lines.has(line)).length;
    if (score > bestScore) {
      best = index;
      bestScore = score;
    }
  });
  return best;
}

function body(source: string): string {
  const trimmed = source.trimStart();
  return trimmed.startsWith('%%track')
    ? trimmed.slice(trimmed.indexOf('\n') + 1 || trimmed.length)
    : source;
}

function normalise(text: string): string {
  return text
    .split('\n')
    .map(line => line.trimEnd())
    .join('\n')
    .trim();
}
