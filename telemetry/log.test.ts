import { describe, expect, it } from 'vitest';
import { createLogger, wantsPretty } from './log.ts';

describe('process logger', () => {
  it('is pretty on a terminal and JSON lines elsewhere, unless STEWARD_LOG_PRETTY says otherwise', () => {
    expect(wantsPretty({}, true)).toBe(true);
    expect(wantsPretty({}, false)).toBe(false);
    expect(wantsPretty({ STEWARD_LOG_PRETTY: '0' }, true)).toBe(false);
    expect(wantsPretty({ STEWARD_LOG_PRETTY: '1' }, false)).toBe(true);
  });

  it('builds either kind at the level asked', () => {
    expect(createLogger('debug', { pretty: true }).level).toBe('debug');
    expect(createLogger('warn', { pretty: false }).level).toBe('warn');
  });
});
