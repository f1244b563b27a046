import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import {
  DRIFT_COLUMNS,
  DRIFT_REPORT,
  DriftReport,
  parseDrift
} from '../components/DriftReport';
import { act, mount, settle } from './react';

const trans = nullTranslator.load('jupyter_mlops');

const RESULT = {
  drifted: true,
  share: 2 / 3,
  threshold: 0.5,
  reference: 'run:abc (data/train.csv d1c0c4d013b3)',
  current: 'batch.csv',
  drifted_columns: ['amount', 'city'],
  columns: {
    amount: {
      score: 1.2e-9,
      drifted: true,
      test: 'K-S p_value',
      test_threshold: 0.05,
      kind: 'numerical'
    },
    age: {
      score: 0.7924,
      drifted: false,
      test: 'K-S p_value',
      test_threshold: 0.05,
      kind: 'numerical'
    },
    city: {
      score: 0.0102,
      drifted: true,
      test: 'chi-square p_value',
      test_threshold: 0.05,
      kind: 'categorical'
    }
  }
};

/** A client whose artifacts are these texts (and whose requests are counted). */
function client(files: Record<string, string>, asked: string[]): MlopsClient {
  return {
    artifact: async (runId: string, path: string) => {
      asked.push(`${runId} ${path}`);
      if (!(path in files)) {
        throw new Error(`no artifact ${path}`);
      }
      const text = files[path];
      return { text: async () => text } as unknown as Blob;
    }
  } as unknown as MlopsClient;
}

describe('DriftReport', () => {
  beforeAll(() => {
    Object.assign(URL, {
      createObjectURL: () => 'blob:drift-report',
      revokeObjectURL: () => undefined
    });
  });

  it('shows the verdict and one row per column, drifted ones marked', async () => {
    const asked: string[] = [];
    const view = mount(
      <DriftReport
        client={client({ [DRIFT_COLUMNS]: JSON.stringify(RESULT) }, asked)}
        runId="r1"
        hasReport={false}
        trans={trans}
      />
    );
    await settle();
    const text = view.host.textContent ?? '';
    expect(text).toContain('Drifted');
    expect(text).toContain('67% of columns drifted (threshold 50%)');
    expect(text).toContain('batch.csv against run:abc');
    const rows = Array.from(view.host.querySelectorAll('tbody tr')).map(row =>
      Array.from(row.querySelectorAll('td')).map(cell => cell.textContent)
    );
    expect(rows).toEqual([
      ['amount', 'K-S p_value', '1.2e-9', 'yes'],
      ['age', 'K-S p_value', '0.792', 'no'],
      ['city', 'chi-square p_value', '0.010', 'yes']
    ]);
    const marked = view.host.querySelectorAll('tbody tr.jp-mlops-Drifted');
    expect(marked).toHaveLength(2);
    expect(view.host.querySelector('button')).toBeNull(); // no report logged
    expect(asked).toEqual(['r1 drift/columns.json']);
    view.unmount();
  });

  it('opens the report in a sandboxed frame only when asked', async () => {
    const asked: string[] = [];
    const files = {
      [DRIFT_COLUMNS]: JSON.stringify(RESULT),
      [DRIFT_REPORT]: '<html><body>evidently</body></html>'
    };
    const view = mount(
      <DriftReport
        client={client(files, asked)}
        runId="r1"
        hasReport={true}
        trans={trans}
      />
    );
    await settle();
    expect(view.host.querySelector('iframe')).toBeNull();
    expect(asked).toEqual(['r1 drift/columns.json']);
    const button = view.host.querySelector('button')!;
    expect(button.textContent).toBe('Show the drift report');
    await act(async () => button.click());
    await settle();
    const frame = view.host.querySelector('iframe')!;
    expect(frame.getAttribute('sandbox')).toBe('allow-scripts');
    expect(frame.getAttribute('src')).toBe('blob:drift-report');
    expect(asked).toEqual(['r1 drift/columns.json', 'r1 drift/report.html']);
    view.unmount();
  });

  it('says what is wrong with an artifact that is not a drift result', async () => {
    expect(() => parseDrift('{"share": "high"}')).toThrow(
      'drift/columns.json is not a drift result'
    );
    const view = mount(
      <DriftReport
        client={client({ [DRIFT_COLUMNS]: '[1, 2]' }, [])}
        runId="r1"
        hasReport={false}
        trans={trans}
      />
    );
    await settle();
    expect(view.host.textContent).toContain('not a drift result');
    expect(view.host.querySelector('table')).toBeNull();
    view.unmount();
  });
});
