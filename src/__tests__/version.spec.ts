import { normaliseVersion, versionsMatch } from '../version';

describe('versionsMatch', () => {
  it('accepts the same version', () => {
    expect(versionsMatch('0.1.0', '0.1.0')).toBe(true);
  });

  it('refuses different versions', () => {
    expect(versionsMatch('0.1.0', '0.2.0')).toBe(false);
    expect(versionsMatch('0.1.0', '0.1.0a1')).toBe(false);
  });

  it('reads npm and Python pre-release spellings alike', () => {
    expect(versionsMatch('0.2.0-alpha.1', '0.2.0a1')).toBe(true);
    expect(versionsMatch('0.2.0-beta.3', '0.2.0b3')).toBe(true);
    expect(versionsMatch('0.2.0-rc.1', '0.2.0rc1')).toBe(true);
  });

  it('ignores build metadata', () => {
    expect(normaliseVersion('0.1.0+abc')).toBe('0.1.0');
  });
});
