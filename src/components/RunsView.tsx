import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  InputGroup,
  caretDownIcon,
  caretUpIcon,
  searchIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import type { ExperimentSummary, RunSummary } from '../api/types';
import { relativeTime } from '../format';
import { QuickFilter, RunsModel } from '../runs/model';
import { nestRuns } from '../runs/nesting';
import { ErrorCard } from './ErrorCard';
import { ExperimentSelect } from './ExperimentSelect';
import { ActionLink } from './ActionLink';
import { statusText } from './RunList';

interface IRunsViewProps {
  model: RunsModel;
  experiments: ExperimentSummary[];
  trans: TranslationBundle;
  onOpen: (runId: string) => void;
  onCompare: (runIds: string[]) => void;
}

/** Milliseconds as "850 ms", "12.3 s", "4 min 05 s". */
export function durationText(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const minutes = Math.floor(ms / 60000);
  const seconds = Math.round((ms % 60000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

function cellValue(run: RunSummary, column: string): string {
  const [kind, ...rest] = column.split('.');
  const key = rest.join('.');
  if (kind === 'metrics') {
    const value = run.metrics[key];
    if (value === undefined) {
      return '';
    }
    return value === null ? 'NaN' : Number(value).toPrecision(4);
  }
  if (kind === 'params') {
    return run.params[key] ?? '';
  }
  return '';
}

/** The runs of one experiment: a sortable, filterable table with live updates. */
export function RunsView(props: IRunsViewProps): JSX.Element {
  const { model, experiments, trans } = props;
  const [filter, setFilter] = React.useState(model.filter);
  const [picking, setPicking] = React.useState(false);
  const quickLabels: Record<QuickFilter, string> = {
    all: trans.__('All'),
    finished: trans.__('Finished'),
    failed: trans.__('Failed'),
    running: trans.__('Running'),
    jobs: trans.__('Jobs')
  };
  const sort = model.sort;
  const header = (column: string, label: string) => (
    <th
      key={column}
      className="jp-mlops-RunsTable-sortable"
      onClick={() => void model.sortBy(column)}
      aria-sort={
        sort.column === column
          ? sort.descending
            ? 'descending'
            : 'ascending'
          : 'none'
      }
      title={trans.__('Sort by %1', label)}
    >
      {label}
      {sort.column === column &&
        (sort.descending ? (
          <caretDownIcon.react tag="span" className="jp-mlops-SortIcon" />
        ) : (
          <caretUpIcon.react tag="span" className="jp-mlops-SortIcon" />
        ))}
    </th>
  );
  const selected = Array.from(model.selected);
  return (
    <div className="jp-mlops-Runs">
      <div className="jp-mlops-RunsToolbar">
        <ExperimentSelect
          model={model}
          experiments={experiments}
          trans={trans}
        />
        <form
          onSubmit={event => {
            event.preventDefault();
            void model.setFilter(filter);
          }}
        >
          <InputGroup
            type="text"
            aria-label={trans.__('Filter runs')}
            placeholder={trans.__(
              "e.g. metrics.loss < 0.5 and params.lr = '0.1'"
            )}
            value={filter}
            rightIcon={searchIcon}
            onChange={event => setFilter(event.target.value)}
          />
        </form>
        <div className="jp-mlops-QuickFilters" role="group">
          {(Object.keys(quickLabels) as QuickFilter[]).map(quick => (
            <button
              key={quick}
              className={`jp-mlops-Chip${model.quick === quick ? ' jp-mod-active' : ''}`}
              onClick={() => void model.setFilter(filter, quick)}
            >
              {quickLabels[quick]}
            </button>
          ))}
        </div>
        <div className="jp-mlops-RunsActions">
          <Button minimal small onClick={() => setPicking(!picking)}>
            {trans.__('Columns')}
          </Button>
          <Button
            small
            disabled={selected.length < 2}
            onClick={() => props.onCompare(selected)}
            title={trans.__('Compare the selected runs')}
          >
            {trans.__('Compare (%1)', selected.length)}
          </Button>
        </div>
        {picking && (
          <div className="jp-mlops-ColumnPicker">
            {[
              ...model.metricKeys.map(k => `metrics.${k}`),
              ...model.paramKeys.map(k => `params.${k}`)
            ].map(column => (
              <label key={column}>
                <input
                  type="checkbox"
                  checked={model.columns.includes(column)}
                  onChange={() => model.toggleColumn(column)}
                />
                {column}
              </label>
            ))}
          </div>
        )}
      </div>
      {model.error ? (
        <ErrorCard
          error={model.error}
          trans={trans}
          onRetry={() => void model.reload()}
        />
      ) : model.experimentId === null ? (
        <div className="jp-mlops-Placeholder">
          {trans.__(
            'Choose an experiment, or open a notebook that tracks runs.'
          )}
        </div>
      ) : model.runs.length === 0 ? (
        <div className="jp-mlops-Placeholder">
          {model.loading
            ? trans.__('Loading runs…')
            : trans.__('No runs match. Track a cell with %%track to add one.')}
        </div>
      ) : (
        <div className="jp-mlops-RunsScroll">
          <table className="jp-mlops-RunsTable">
            <thead>
              <tr>
                <th aria-label={trans.__('Select')} />
                {header('status', trans.__('Status'))}
                {header('run_name', trans.__('Name'))}
                {header('start_time', trans.__('Started'))}
                <th>{trans.__('Duration')}</th>
                <th>{trans.__('Source')}</th>
                {model.columns.map(column =>
                  header(column, column.replace(/^(metrics|params)\./, ''))
                )}
              </tr>
            </thead>
            <tbody>
              {nestRuns(model.runs).map(({ run, depth }) => (
                <tr
                  key={run.run_id}
                  className={`jp-mlops-RunRow${depth > 0 ? ' jp-mod-child' : ''}`}
                  data-run-id={run.run_id}
                  data-parent-run-id={depth > 0 ? run.parent_run_id : undefined}
                  onDoubleClick={() => props.onOpen(run.run_id)}
                >
                  <td>
                    <input
                      type="checkbox"
                      aria-label={trans.__('Select run %1', run.run_name)}
                      checked={model.selected.has(run.run_id)}
                      onChange={() => model.toggleSelected(run.run_id)}
                    />
                  </td>
                  <td>
                    <span
                      className={`jp-mlops-Status jp-mod-${run.status.toLowerCase()}`}
                    >
                      {statusText(run, trans)}
                    </span>
                  </td>
                  <td
                    style={
                      depth > 0
                        ? { paddingLeft: `${depth * 1.25}em` }
                        : undefined
                    }
                  >
                    {depth > 0 && (
                      <span
                        className="jp-mlops-Muted jp-mlops-RunRow-nest"
                        title={trans.__('A tracked cell of the job above')}
                        aria-hidden="true"
                      >
                        ↳{' '}
                      </span>
                    )}
                    <ActionLink
                      className="jp-mlops-RunName"
                      onActivate={() => props.onOpen(run.run_id)}
                    >
                      {run.run_name}
                    </ActionLink>
                  </td>
                  <td
                    title={
                      run.start_time
                        ? new Date(run.start_time).toLocaleString()
                        : ''
                    }
                  >
                    {relativeTime(run.start_time)}
                  </td>
                  <td>{durationText(run.duration_ms)}</td>
                  <td>{run.source}</td>
                  {model.columns.map(column => (
                    <td key={column} className="jp-mlops-Num">
                      {cellValue(run, column)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {model.hasMore && (
            <Button minimal small onClick={() => void model.loadMore()}>
              {trans.__('Load more runs')}
            </Button>
          )}
        </div>
      )}
    </div>
  );
}
