import * as React from 'react';

/**
 * The current time, renewed every `intervalMs`: relative times ("3 minutes ago") stay
 * true while a view is open, without waiting for its data to change.
 */
export function useNow(intervalMs: number): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}
