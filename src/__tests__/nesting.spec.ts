import type { RunSummary } from '../api/types';
import { childRunsFilter, shownMetrics } from '../components/RunDetailsView';
import { nestRuns } from '../runs/nesting';

function run(
  id: string,
  start: number,
  parent: string | null = null,
  metrics: Record<string, number | null> = {}
): RunSummary {
  return {
    run_id: id,
    run_name: id,
    experiment_id: '1',
    status: 'FINISHED',
    lifecycle_stage: 'active',
    start_time: start,
    end_time: start + 10,
    duration_ms: 10,
    source: parent ? 'cell' : 'job',
    notebook: null,
    notebook_path: null,
    params: {},
    metrics,
    tags: {},
    parent_run_id: parent
  };
}

const shape = (runs: RunSummary[]) =>
  nestRuns(runs).map(({ run, depth }) => `${'>'.repeat(depth)}${run.run_id}`);

describe("a job's cells under the job's run", () => {
  it('moves children right under their parent, in the order they started', () => {
    // Newest first, as the runs view sorts by default: the cells started after the job.
    const runs = [
      run('cell-b', 30, 'job'),
      run('cell-a', 20, 'job'),
      run('other', 15),
      run('job', 10)
    ];
    expect(shape(runs)).toEqual(['other', 'job', '>cell-a', '>cell-b']);
  });

  it('leaves a run whose parent is not listed where it is', () => {
    expect(shape([run('cell', 20, 'gone'), run('x', 10)])).toEqual([
      'cell',
      'x'
    ]);
  });

  it('shows every run once, even when parents make a cycle', () => {
    expect(
      shape([run('a', 1, 'b'), run('b', 2, 'a'), run('c', 3, 'c')])
    ).toEqual(['c', 'a', '>b']);
  });

  it('finds the children by MLflow parent tag, and lists their metrics', () => {
    expect(childRunsFilter('abc123')).toBe(
      "tags.`mlflow.parentRunId` = 'abc123'"
    );
    expect(childRunsFilter("x' or '1'='1")).toBe(
      "tags.`mlflow.parentRunId` = 'xor11'"
    );
    const child = run('c', 1, 'job', {
      score: 1.5,
      bad: null,
      'jupyter_mlops.duration_s': 2
    });
    expect(shownMetrics(child)).toEqual([
      ['score', '1.500'],
      ['bad', 'NaN']
    ]);
  });
});
