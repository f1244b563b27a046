import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { ExperimentSummary, RunSummary } from '../api/types';
import { relativeTime } from '../format';
import { RunsModel } from '../runs/model';
import { nestRuns } from '../runs/nesting';
import { ActionLink } from './ActionLink';
import { ErrorCard } from './ErrorCard';
import { ExperimentSelect } from './ExperimentSelect';
import { useNow } from './useNow';

interface IRunListProps {
  model: RunsModel;
  experiments: ExperimentSummary[];
  trans: TranslationBundle;
  onOpen: (runId: string) => void;
  /** Open the full-width Runs view on this experiment. */
  onShowAll: (experimentId: string | null) => void;
}

/** The metric the compact list shows: the first one of the table's columns. */
export function keyMetric(columns: string[]): string | null {
  const column = columns.find(c => c.startsWith('metrics.'));
  return column ? column.slice('metrics.'.length) : null;
}

/** A metric value in few characters: "0.9312", "1.23e+5", "NaN". */
export function shortNumber(value: number | null | undefined): string {
  if (value === undefined) {
    return '';
  }
  return value === null ? 'NaN' : Number(value).toPrecision(4);
}

/** A run's status for people: finished reads "done". */
export function statusText(run: RunSummary, trans: TranslationBundle): string {
  switch (run.status) {
    case 'FINISHED':
      return trans.__('done');
    case 'FAILED':
      return trans.__('failed');
    case 'RUNNING':
      return trans.__('running');
    case 'SCHEDULED':
      return trans.__('scheduled');
    case 'KILLED':
      return trans.__('killed');
    default:
      return String(run.status).toLowerCase();
  }
}

/**
 * The sidebar's runs: one line each (status, name, key metric, age), legible in a
 * 260 px wide sidebar. Sorting, filtering, columns and comparison live in the Runs view.
 */
export function RunList(props: IRunListProps): JSX.Element {
  const { model, experiments, trans } = props;
  // Re-rendered every 30 s, so ages stay true (measured from the time of each render).
  useNow(30000);
  const metric = keyMetric(model.columns);
  let body: JSX.Element;
  if (model.error) {
    body = (
      <ErrorCard
        error={model.error}
        trans={trans}
        onRetry={() => void model.reload()}
      />
    );
  } else if (model.experimentId === null) {
    body = (
      <div className="jp-mlops-Placeholder">
        {trans.__('Choose an experiment, or open a notebook that tracks runs.')}
      </div>
    );
  } else if (model.runs.length === 0) {
    body = (
      <div className="jp-mlops-Placeholder">
        {model.loading
          ? trans.__('Loading runs…')
          : trans.__('No runs yet. Track a cell with %%track to add one.')}
      </div>
    );
  } else {
    body = (
      <ul className="jp-mlops-RunList" aria-label={trans.__('Runs')}>
        {nestRuns(model.runs).map(({ run, depth }) => {
          const status = statusText(run, trans);
          const value = metric ? shortNumber(run.metrics[metric]) : '';
          return (
            <li
              key={run.run_id}
              className={`jp-mlops-RunRow${depth > 0 ? ' jp-mod-child' : ''}`}
              data-run-id={run.run_id}
              style={depth > 0 ? { paddingLeft: `${depth}em` } : undefined}
            >
              {depth > 0 && (
                <span
                  className="jp-mlops-Muted jp-mlops-RunRow-nest"
                  title={trans.__('A tracked cell of the job above')}
                  aria-hidden="true"
                >
                  ↳
                </span>
              )}
              <span
                className={`jp-mlops-StatusDot jp-mod-${run.status.toLowerCase()}`}
                role="img"
                aria-label={status}
                title={status}
              />
              <ActionLink
                className="jp-mlops-RunName"
                title={run.run_name}
                onActivate={() => props.onOpen(run.run_id)}
              >
                {run.run_name}
              </ActionLink>
              {value && (
                <span
                  className="jp-mlops-RunMetric jp-mlops-Num"
                  title={`${metric} = ${value}`}
                >
                  <span className="jp-mlops-Muted">{metric}</span> {value}
                </span>
              )}
              <span
                className="jp-mlops-RunAge"
                title={
                  run.start_time
                    ? new Date(run.start_time).toLocaleString()
                    : ''
                }
              >
                {relativeTime(run.start_time, Date.now(), undefined, 'narrow')}
              </span>
            </li>
          );
        })}
      </ul>
    );
  }
  return (
    <div className="jp-mlops-Runs jp-mod-compact">
      <div className="jp-mlops-RunListToolbar">
        <ExperimentSelect
          model={model}
          experiments={experiments}
          trans={trans}
        />
        <Button
          small
          minimal
          className="jp-mlops-ShowAllRuns"
          title={trans.__(
            'Open all runs of this experiment in a full-width view: columns, sort, filter, compare'
          )}
          onClick={() => props.onShowAll(model.experimentId)}
        >
          {trans.__('All runs')}
        </Button>
      </div>
      {body}
    </div>
  );
}
