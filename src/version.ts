/** Version of this frontend, compared with the server extension's. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const FRONTEND_VERSION: string = require('../package.json').version;

/**
 * Whether a frontend and a server extension of these versions work together: the same
 * version, ignoring build metadata. Python and npm spell pre-releases differently
 * (`0.2.0a1` against `0.2.0-alpha.1`), so both are normalised first.
 */
export function versionsMatch(frontend: string, server: string): boolean {
  return normaliseVersion(frontend) === normaliseVersion(server);
}

export function normaliseVersion(version: string): string {
  const base = version.trim().split('+')[0].toLowerCase();
  return base
    .replace(/-?alpha\.?/, 'a')
    .replace(/-?beta\.?/, 'b')
    .replace(/-?rc\.?/, 'rc')
    .replace(/-?(a|b|rc)\.?(\d+)/, '$1$2');
}
