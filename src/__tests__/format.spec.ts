import { barWidth, relativeTime, runCountText, shortCommit } from '../format';

describe('format', () => {
  const now = Date.UTC(2026, 0, 10, 12, 0, 0);

  it('writes relative times in the largest fitting unit', () => {
    expect(relativeTime(now - 5 * 1000, now, 'en')).toBe('5 seconds ago');
    expect(relativeTime(now - 3 * 60 * 1000, now, 'en')).toBe('3 minutes ago');
    expect(relativeTime(now - 2 * 24 * 3600 * 1000, now, 'en')).toBe(
      '2 days ago'
    );
    expect(relativeTime(null, now, 'en')).toBe('');
  });

  it('writes narrow relative times for compact lines', () => {
    expect(relativeTime(now - 5 * 1000, now, 'en', 'narrow')).toBe('5s ago');
    expect(relativeTime(now - 3 * 60 * 1000, now, 'en', 'narrow')).toBe(
      '3m ago'
    );
  });

  it('marks capped run counts', () => {
    expect(runCountText(1234, false, 'en')).toBe('1,234');
    expect(runCountText(10000, true, 'en')).toBe('10,000+');
  });

  it('scales bars to the largest count and keeps small ones visible', () => {
    expect(barWidth(50, 100)).toBe(50);
    expect(barWidth(1, 1000)).toBe(2);
    expect(barWidth(0, 100)).toBe(0);
    expect(barWidth(5, 0)).toBe(0);
  });

  it('shortens commits', () => {
    expect(shortCommit('0123456789abcdef')).toBe('01234567');
    expect(shortCommit(null)).toBe('');
  });
});
