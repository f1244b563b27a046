import { alignSeries } from '../components/Chart';
import { parameterRows, scatterSeries } from '../components/CompareView';
import { durationText } from '../components/RunsView';
import { findTrackedCell } from '../runs/cells';
import { combinedFilter, defaultColumns, orderClause } from '../runs/model';
import { keyMetric, shortNumber } from '../components/RunList';
import { renameCode } from '../runs/renames';
import type { RunSummary } from '../api/types';

function run(
  name: string,
  params: Record<string, string>,
  metrics: Record<string, number>
): RunSummary {
  return {
    run_id: name,
    run_name: name,
    experiment_id: '1',
    status: 'FINISHED',
    lifecycle_stage: 'active',
    start_time: 0,
    end_time: 1000,
    duration_ms: 1000,
    source: 'cell',
    notebook: null,
    notebook_path: null,
    params,
    metrics,
    tags: {}
  };
}

describe('runs filters and order', () => {
  it('joins the quick filter and the user filter', () => {
    expect(combinedFilter('all', '')).toBe('');
    expect(combinedFilter('failed', " params.lr = '0.1' ")).toBe(
      "attributes.status = 'FAILED' and params.lr = '0.1'"
    );
  });

  it('quotes keys MLflow cannot read bare', () => {
    expect(orderClause('start_time', true)).toBe('attributes.start_time DESC');
    expect(orderClause('metrics.loss', false)).toBe('metrics.loss ASC');
    expect(orderClause('metrics.val loss', true)).toBe(
      'metrics.`val loss` DESC'
    );
  });
});

describe('comparison', () => {
  const runs = [
    run('a', { lr: '0.1', depth: '3' }, { acc: 0.8 }),
    run('b', { lr: '0.2', depth: '3' }, { acc: 0.9 }),
    run('c', { lr: '0.3' }, { acc: 0.85 })
  ];

  it('marks the parameters the runs disagree on', () => {
    const rows = parameterRows(runs);
    expect(rows.map(r => [r.key, r.differs])).toEqual([
      ['depth', true],
      ['lr', true]
    ]);
    expect(
      parameterRows(runs.slice(0, 2)).find(r => r.key === 'depth')?.differs
    ).toBe(false);
  });

  it('plots numeric parameters as numbers and others as categories', () => {
    const numeric = scatterSeries(runs, 'lr', 'acc');
    expect(numeric.categories).toBeUndefined();
    expect(numeric.series.map(s => s.points[0])).toEqual([
      [0.1, 0.8],
      [0.2, 0.9],
      [0.3, 0.85]
    ]);
    const named = [
      run('x', { opt: 'adam' }, { acc: 1 }),
      run('y', { opt: 'sgd' }, { acc: 2 })
    ];
    const categorical = scatterSeries(named, 'opt', 'acc');
    expect(categorical.categories).toEqual(['adam', 'sgd']);
    expect(categorical.series[1].points[0]).toEqual([1, 2]);
  });

  it('aligns series with different steps on one axis', () => {
    const data = alignSeries([
      {
        label: 'a',
        points: [
          [0, 1],
          [2, 3]
        ]
      },
      { label: 'b', points: [[1, 5]] }
    ]);
    expect(data[0]).toEqual([0, 1, 2]);
    expect(data[1]).toEqual([1, null, 3]);
    expect(data[2]).toEqual([null, 5, null]);
  });
});

describe('findTrackedCell', () => {
  const cells = [
    'import x',
    '%%track --metrics acc\nlr = 0.1\nacc = 1',
    'print(lr)'
  ];

  it('finds the cell whose body is the run source', () => {
    expect(findTrackedCell(cells, 'lr = 0.1\nacc = 1\n')).toBe(1);
  });

  it('falls back to the most similar tracked cell after an edit', () => {
    expect(findTrackedCell(cells, 'lr = 0.1\nacc = 2')).toBe(1);
    expect(findTrackedCell(cells, 'nothing alike')).toBe(-1);
  });
});

describe('durationText', () => {
  it('chooses a readable unit', () => {
    expect(durationText(850)).toBe('850 ms');
    expect(durationText(12345)).toBe('12.3 s');
    expect(durationText(245000)).toBe('4 min 05 s');
    expect(durationText(null)).toBe('');
  });
});

describe('default columns', () => {
  it('shows the metrics all runs share and the parameters that vary', () => {
    const runs = [
      run('a', { lr: '0.1', kind: 'sgd', C_reg: '1' }, { acc: 0.8, loss: 1 }),
      run('b', { lr: '0.3', kind: 'sgd', C_reg: '1' }, { acc: 0.9 }),
      run(
        'c',
        { lr: '0.3', kind: 'sgd', C_reg: '1' },
        { acc: 0.7, 'jupyter_mlops.duration_s': 2 }
      )
    ];
    expect(defaultColumns(runs)).toEqual(['metrics.acc', 'params.lr']);
  });

  it('counts a parameter some runs lack as varying', () => {
    const runs = [run('a', { lr: '0.1' }, {}), run('b', {}, {})];
    expect(defaultColumns(runs)).toEqual(['params.lr']);
  });

  it('shows nothing for no runs and at most `max` of each', () => {
    expect(defaultColumns([])).toEqual([]);
    const runs = [
      run('a', { p: '1', q: '1', r: '1' }, { m: 1, n: 1, o: 1, z: 1 }),
      run('b', { p: '2', q: '2', r: '2' }, { m: 1, n: 1, o: 1, z: 1 })
    ];
    expect(defaultColumns(runs, 2)).toEqual([
      'metrics.m',
      'metrics.n',
      'params.p',
      'params.q'
    ]);
  });

  it('gives the compact list its key metric', () => {
    expect(keyMetric(['params.lr', 'metrics.acc', 'metrics.loss'])).toBe('acc');
    expect(keyMetric(['params.lr'])).toBeNull();
    expect(shortNumber(0.93125)).toBe('0.9313');
    expect(shortNumber(null)).toBe('NaN');
    expect(shortNumber(undefined)).toBe('');
  });
});

describe('renameCode', () => {
  it('is the text tests/test_renames.py runs in a real kernel', () => {
    expect(renameCode('Untitled.ipynb', 'models/My model.ipynb')).toBe(
      "(lambda util: util.find_spec('jupyter_mlops') and " +
        "__import__('jupyter_mlops.tracking.renames', fromlist=['notebook_moved'])" +
        '.notebook_moved("Untitled.ipynb", "models/My model.ipynb"))' +
        "(__import__('importlib.util', fromlist=['find_spec']))"
    );
  });

  it('keeps quotes and backslashes in paths literal', () => {
    expect(renameCode('a.ipynb', 'x"); import os; ("\\.ipynb')).toContain(
      '"x\\"); import os; (\\"\\\\.ipynb"'
    );
  });
});
