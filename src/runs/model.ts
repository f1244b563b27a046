import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { RunSummary } from '../api/types';
import { PollingModel } from '../polling';

/** Quick filters that add a status condition to the user's filter. */
export type QuickFilter = 'all' | 'finished' | 'failed' | 'running' | 'jobs';

const QUICK: Record<QuickFilter, string> = {
  all: '',
  finished: "attributes.status = 'FINISHED'",
  failed: "attributes.status = 'FAILED'",
  running: "attributes.status = 'RUNNING'",
  jobs: "tags.`jupyter_mlops.source` = 'job'"
};

/** The MLflow filter the store receives: the quick filter and the user's, joined. */
export function combinedFilter(quick: QuickFilter, filter: string): string {
  return [QUICK[quick], filter.trim()].filter(Boolean).join(' and ');
}

/** The order clause for a column and direction, as MLflow's search expects it. */
export function orderClause(column: string, descending: boolean): string {
  const field = column.includes('.') ? column : `attributes.${column}`;
  const quoted = field.replace(
    /^(metrics|params|tags)\.(.*)$/,
    (_m, kind, key) =>
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
        ? `${kind}.${key}`
        : `${kind}.\`${key}\``
  );
  return `${quoted} ${descending ? 'DESC' : 'ASC'}`;
}

/**
 * The columns a runs table shows until the person picks their own: the metrics every run
 * shown has (ours, `jupyter_mlops.*`, left out) and the parameters whose values differ
 * between the runs (a parameter all runs share tells nothing), at most `max` of each.
 */
export function defaultColumns(runs: RunSummary[], max = 3): string[] {
  if (runs.length === 0) {
    return [];
  }
  const shared = Object.keys(runs[0].metrics)
    .filter(key => !key.startsWith('jupyter_mlops.'))
    .filter(key => runs.every(run => key in run.metrics))
    .sort()
    .slice(0, max);
  const names = Array.from(
    new Set(runs.flatMap(run => Object.keys(run.params)))
  ).sort();
  const varying = names
    .filter(key => new Set(runs.map(run => run.params[key])).size > 1)
    .slice(0, max);
  return [
    ...shared.map(key => `metrics.${key}`),
    ...varying.map(key => `params.${key}`)
  ];
}

/**
 * Runs of one experiment, a page at a time, sorted and filtered by the store; refreshed
 * by a poll while visible so runs started or finished by tracked cells appear by themselves.
 */
export class RunsModel extends PollingModel {
  constructor(readonly client: MlopsClient) {
    super({ name: 'jupyter-mlops:runs', interval: 5000, max: 60000 });
  }
  get experimentId(): string | null {
    return this._experimentId;
  }
  get runs(): RunSummary[] {
    return this._runs;
  }
  get paramKeys(): string[] {
    return this._paramKeys;
  }
  get metricKeys(): string[] {
    return this._metricKeys;
  }
  get hasMore(): boolean {
    return this._nextToken !== null;
  }
  get loading(): boolean {
    return this._loading;
  }
  get error(): MlopsApiError | null {
    return this._error;
  }
  get filter(): string {
    return this._filter;
  }
  get quick(): QuickFilter {
    return this._quick;
  }
  get sort(): { column: string; descending: boolean } {
    return this._sort;
  }
  get columns(): string[] {
    return this._columns;
  }
  get selected(): ReadonlySet<string> {
    return this._selected;
  }
  async setExperiment(experimentId: string | null): Promise<void> {
    if (experimentId === this._experimentId) {
      return;
    }
    this._experimentId = experimentId;
    this._selected.clear();
    this._columns = [];
    this._columnsChosen = false;
    await this.reload();
    if (experimentId !== null) {
      // Just loaded: the poll's first look is one interval away.
      this.startPolling(false);
    }
  }

  async setFilter(
    filter: string,
    quick: QuickFilter = this._quick
  ): Promise<void> {
    this._filter = filter;
    this._quick = quick;
    await this.reload();
  }

  async sortBy(column: string): Promise<void> {
    const descending =
      this._sort.column === column ? !this._sort.descending : true;
    this._sort = { column, descending };
    await this.reload();
  }

  toggleColumn(column: string): void {
    this._columnsChosen = true;
    this._columns = this._columns.includes(column)
      ? this._columns.filter(c => c !== column)
      : [...this._columns, column];
    this.emit();
  }

  toggleSelected(runId: string): void {
    if (this._selected.has(runId)) {
      this._selected.delete(runId);
    } else {
      this._selected.add(runId);
    }
    this.emit();
  }

  /** Load the first page again (filter, order or experiment changed). */
  async reload(): Promise<void> {
    this._runs = [];
    this._nextToken = null;
    await this._load(undefined, this._pageSize);
  }

  /** Refresh what is shown (the poll): the same number of runs, from the top. */
  async refresh(): Promise<void> {
    await this._load(undefined, Math.max(this._pageSize, this._runs.length));
  }

  async loadMore(): Promise<void> {
    if (this._nextToken) {
      await this._load(this._nextToken, this._pageSize);
    }
  }

  /** Forget a run the user deleted, without waiting for the next refresh. */
  removeRun(runId: string): void {
    this._runs = this._runs.filter(r => r.run_id !== runId);
    this._selected.delete(runId);
    this.emit();
  }

  /** Show a run the user renamed or tagged, without waiting for the next refresh. */
  replaceRun(run: RunSummary): void {
    this._runs = this._runs.map(r => (r.run_id === run.run_id ? run : r));
    this.emit();
  }

  /** The poll's look; a failure makes the poll back off. */
  protected async look(): Promise<void> {
    await this.refresh();
    if (this._error) {
      throw this._error;
    }
  }

  private async _load(token: string | undefined, count: number): Promise<void> {
    const experimentId = this._experimentId;
    if (experimentId === null) {
      this._runs = [];
      this.emit();
      return;
    }
    const ticket = ++this._ticket;
    this._loading = true;
    this.emit();
    try {
      const page = await this.client.runs({
        experiment_id: experimentId,
        filter: combinedFilter(this._quick, this._filter) || undefined,
        order_by: orderClause(this._sort.column, this._sort.descending),
        max_results: Math.min(1000, count),
        page_token: token
      });
      if (ticket !== this._ticket) {
        return;
      }
      this._runs = token ? [...this._runs, ...page.runs] : page.runs;
      this._nextToken = page.next_page_token ?? null;
      this._paramKeys = mergeKeys(
        token ? this._paramKeys : [],
        page.param_keys
      );
      this._metricKeys = mergeKeys(
        token ? this._metricKeys : [],
        page.metric_keys
      );
      if (!this._columnsChosen) {
        this._columns = defaultColumns(this._runs);
      }
      this._error = null;
    } catch (error) {
      if (ticket === this._ticket) {
        this._error = asApiError(error);
      }
    } finally {
      if (ticket === this._ticket) {
        this._loading = false;
      }
      this.emit();
    }
  }

  private _experimentId: string | null = null;
  private _runs: RunSummary[] = [];
  private _paramKeys: string[] = [];
  private _metricKeys: string[] = [];
  private _nextToken: string | null = null;
  private _loading = false;
  private _error: MlopsApiError | null = null;
  private _filter = '';
  private _quick: QuickFilter = 'all';
  private _sort = { column: 'start_time', descending: true };
  private _columns: string[] = [];
  private _columnsChosen = false;
  private _selected = new Set<string>();
  private _pageSize = 100;
  private _ticket = 0;
}

function mergeKeys(a: string[], b: string[]): string[] {
  return Array.from(new Set([...a, ...b])).sort();
}
