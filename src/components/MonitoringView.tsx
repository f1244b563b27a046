import { TranslationBundle } from '@jupyterlab/translation';
import { Button, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import type {
  MonitoredKind,
  MonitoringClient,
  MonitoringHistory
} from '../api/monitoring';
import { relativeTime } from '../format';
import {
  DRIFT_METRIC,
  monitoringSeries,
  shortDate
} from '../monitoring/series';
import { ActionLink } from './ActionLink';
import { Chart } from './Chart';
import { ErrorCard } from './ErrorCard';
import { durationText } from './RunsView';
import { useRequest } from './useRequest';

/** The newest runs charted. */
export const HISTORY_LIMIT = 200;

const OUTCOME_COLORS = ['--jp-success-color1', '--jp-error-color1'];
const OUTCOME_COLORS_DRIFT = ['--jp-warn-color1'];

interface IMonitoringViewProps {
  client: MonitoringClient;
  kind: MonitoredKind;
  name: string;
  trans: TranslationBundle;
  openRun: (runId: string) => void;
  /** Seconds between automatic refreshes while the page is visible; 0: on demand. */
  refreshInterval?: number;
}

function Summary(props: {
  history: MonitoringHistory;
  lastSuccess: number | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { history, trans } = props;
  return (
    <div
      className="jp-mlops-monitoring-summary"
      data-testid="mlops-monitoring-summary"
    >
      <span>
        {history.truncated
          ? trans.__('The newest %1 runs', history.runs.length)
          : trans._n('%1 run', '%1 runs', history.runs.length)}
      </span>
      <span className="jp-mlops-monitoring-ok">
        {trans.__('%1 succeeded', history.successes)}
      </span>
      <span
        className={
          history.failures ? 'jp-mlops-monitoring-failed' : 'jp-mlops-Muted'
        }
      >
        {trans.__('%1 failed', history.failures)}
      </span>
      <span className="jp-mlops-Muted">
        {props.lastSuccess
          ? trans.__('last success %1', relativeTime(props.lastSuccess))
          : trans.__('no success yet')}
      </span>
    </div>
  );
}

function MetricPicker(props: {
  history: MonitoringHistory;
  chosen: string[] | null;
  trans: TranslationBundle;
  onChange: (metrics: string[]) => void;
}): JSX.Element | null {
  const { history, trans } = props;
  const names = history.available_metrics.filter(name => name !== DRIFT_METRIC);
  if (names.length === 0) {
    return null;
  }
  const shown = new Set(props.chosen ?? history.metrics);
  return (
    <fieldset className="jp-mlops-monitoring-metrics">
      <legend>{trans.__('Metrics')}</legend>
      {names.map(name => (
        <label key={name} className="jp-mlops-monitoring-metric">
          <input
            type="checkbox"
            checked={shown.has(name)}
            onChange={event => {
              const next = new Set(shown);
              if (event.target.checked) {
                next.add(name);
              } else {
                next.delete(name);
              }
              next.delete(DRIFT_METRIC);
              props.onChange(names.filter(n => next.has(n)));
            }}
          />
          {name}
        </label>
      ))}
    </fieldset>
  );
}

/**
 * A job's or a deployment's runs over time, from the runs the job records in the tracking
 * store (no Prometheus needed): outcome and duration, the chosen metrics, the drift share.
 */
export function MonitoringView(props: IMonitoringViewProps): JSX.Element {
  const { client, kind, name, trans } = props;
  // null: the server's choice (every metric the runs have).
  const [chosen, setChosen] = React.useState<string[] | null>(null);
  const [version, setVersion] = React.useState(0);
  const { refreshInterval = 0 } = props;
  React.useEffect(() => {
    if (refreshInterval <= 0) {
      return;
    }
    // New runs come in while the tab is open (a schedule, a deployment's retry).
    const timer = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') {
        setVersion(v => v + 1);
      }
    }, refreshInterval * 1000);
    return () => window.clearInterval(timer);
  }, [refreshInterval]);
  const history = useRequest(
    () =>
      client.history(kind, name, {
        // No metric ticked: only the drift share (which always comes along).
        metrics:
          chosen === null ? undefined : chosen.length ? chosen : [DRIFT_METRIC],
        limit: HISTORY_LIMIT
      }),
    [client, kind, name, chosen],
    version
  );
  const labels = React.useMemo(
    () => ({ succeeded: trans.__('succeeded'), failed: trans.__('failed') }),
    [trans]
  );
  const series = React.useMemo(
    () => (history.value ? monitoringSeries(history.value, labels) : null),
    [history.value, labels]
  );
  const title =
    kind === 'job' ? trans.__('Job %1', name) : trans.__('Deployment %1', name);
  return (
    <div className="jp-mlops-monitoring" data-testid="mlops-monitoring">
      <div className="jp-mlops-monitoring-head">
        <h2 className="jp-mlops-monitoring-title">{title}</h2>
        <Button
          minimal
          small
          title={trans.__('Read the runs again')}
          onClick={() => setVersion(v => v + 1)}
        >
          <refreshIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Refresh')}
        </Button>
      </div>
      {history.error && (
        <ErrorCard
          error={history.error}
          trans={trans}
          onRetry={history.retry}
        />
      )}
      {!history.value && !history.error && (
        <div className="jp-mlops-Placeholder">{trans.__('Loading runs…')}</div>
      )}
      {history.value && series && history.value.runs.length === 0 && (
        <div className="jp-mlops-Placeholder">
          {kind === 'job'
            ? trans.__(
                'No runs of this job in the tracking store yet. Its runs appear here once it has run (Run in the Jobs section, or a deployment).'
              )
            : trans.__('No runs of this deployment in the tracking store yet.')}
        </div>
      )}
      {history.value && series && history.value.runs.length > 0 && (
        <>
          <Summary
            history={history.value}
            lastSuccess={series.lastSuccess}
            trans={trans}
          />
          <MetricPicker
            history={history.value}
            chosen={chosen}
            trans={trans}
            onChange={setChosen}
          />
          <section
            className="jp-mlops-monitoring-chart"
            aria-label={trans.__('Outcome and duration')}
          >
            <h3>{trans.__('Outcome and duration (s)')}</h3>
            <Chart
              series={series.outcome}
              xLabel={trans.__('run started')}
              yLabel={trans.__('seconds')}
              mode="scatter"
              xCategories={series.categories}
              colors={OUTCOME_COLORS}
            />
          </section>
          {series.drift && (
            <section
              className="jp-mlops-monitoring-chart"
              aria-label={DRIFT_METRIC}
            >
              <h3>{trans.__('Drift share')}</h3>
              <Chart
                series={series.drift}
                xLabel={trans.__('run started')}
                xCategories={series.categories}
                colors={OUTCOME_COLORS_DRIFT}
              />
            </section>
          )}
          {series.metrics.map(metric => (
            <section
              key={metric.name}
              className="jp-mlops-monitoring-chart"
              aria-label={metric.name}
            >
              <h3>{metric.name}</h3>
              <Chart
                series={metric.series}
                xLabel={trans.__('run started')}
                xCategories={series.categories}
              />
            </section>
          ))}
          <RunTable
            history={history.value}
            trans={trans}
            openRun={props.openRun}
          />
        </>
      )}
    </div>
  );
}

function RunTable(props: {
  history: MonitoringHistory;
  trans: TranslationBundle;
  openRun: (runId: string) => void;
}): JSX.Element {
  const { history, trans } = props;
  const newest = [...history.runs].reverse();
  return (
    <table className="jp-mlops-monitoring-runs">
      <thead>
        <tr>
          <th>{trans.__('Started')}</th>
          <th>{trans.__('Outcome')}</th>
          <th>{trans.__('Duration')}</th>
          {history.metrics.map(name => (
            <th key={name}>{name}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {newest.map(run => (
          <tr
            key={run.run_id}
            data-run-id={run.run_id}
            className={
              run.success === false
                ? 'jp-mlops-monitoring-failedRow'
                : undefined
            }
          >
            <td>
              <ActionLink
                className="jp-mlops-Link"
                title={trans.__('Open the run')}
                onActivate={() => props.openRun(run.run_id)}
              >
                {shortDate(run.start_time)}
              </ActionLink>
            </td>
            <td title={run.error ?? undefined}>
              {run.success === true
                ? trans.__('succeeded')
                : run.success === false
                  ? trans.__('failed')
                  : trans.__('running')}
            </td>
            <td>
              {run.duration === null || run.duration === undefined
                ? ''
                : durationText(run.duration * 1000)}
            </td>
            {history.metrics.map(name => (
              <td key={name}>
                {name in run.metrics
                  ? Number(run.metrics[name]).toPrecision(4)
                  : ''}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
