/** Small formatting helpers shared by the panel's views. */

/**
 * "3 minutes ago" style text for a time in milliseconds since the epoch; the `narrow`
 * style ("3m ago") where a line has little room.
 */
export function relativeTime(
  timestamp: number | null | undefined,
  now: number = Date.now(),
  locale?: string,
  style: Intl.RelativeTimeFormatStyle = 'long'
): string {
  if (timestamp === null || timestamp === undefined) {
    return '';
  }
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style });
  const seconds = Math.round((timestamp - now) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['year', 365 * 24 * 3600],
    ['month', 30 * 24 * 3600],
    ['day', 24 * 3600],
    ['hour', 3600],
    ['minute', 60]
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) {
      return rtf.format(Math.round(seconds / size), unit);
    }
  }
  return rtf.format(seconds, 'second');
}

/** Run count text: "1,234" or "10,000+" when the server stopped counting. */
export function runCountText(
  count: number,
  capped: boolean,
  locale?: string
): string {
  const text = count.toLocaleString(locale);
  return capped ? `${text}+` : text;
}

/** Width of a run count bar, in percent of the largest count shown (at least 2%). */
export function barWidth(count: number, largest: number): number {
  if (largest <= 0 || count <= 0) {
    return 0;
  }
  return Math.max(2, Math.round((count / largest) * 100));
}

/** The first characters of a git commit. */
export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 8) : '';
}
