import type { RunSummary } from '../api/types';

/** A row of the runs table: a run, and how deep it is nested (a job's cell: 1). */
export interface INestedRun {
  run: RunSummary;
  depth: number;
}

/**
 * The runs in the order given, each run whose parent is in the list moved right under
 * it (in the order they started), so a job's cells show under the job's run whatever the
 * sort. A run whose parent is not in the list (another page, filtered out) stays where
 * it is, at depth 0.
 */
export function nestRuns(runs: RunSummary[]): INestedRun[] {
  const ids = new Set(runs.map(run => run.run_id));
  const children = new Map<string, RunSummary[]>();
  for (const run of runs) {
    const parent = run.parent_run_id;
    if (parent && parent !== run.run_id && ids.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(run);
      children.set(parent, list);
    }
  }
  const nested: INestedRun[] = [];
  const placed = new Set<string>();
  const place = (run: RunSummary, depth: number) => {
    if (placed.has(run.run_id)) {
      return; // a cycle of parents cannot hide or repeat a run
    }
    placed.add(run.run_id);
    nested.push({ run, depth });
    const mine = [...(children.get(run.run_id) ?? [])].sort(
      (a, b) => (a.start_time ?? 0) - (b.start_time ?? 0)
    );
    for (const child of mine) {
      place(child, depth + 1);
    }
  };
  for (const run of runs) {
    const parent = run.parent_run_id;
    if (!(parent && parent !== run.run_id && ids.has(parent))) {
      place(run, 0);
    }
  }
  for (const run of runs) {
    place(run, 0); // in a cycle: shown all the same
  }
  return nested;
}
