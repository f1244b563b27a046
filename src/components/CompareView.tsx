import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import type { MetricHistory, RunSummary } from '../api/types';
import { Chart, IChartSeries } from './Chart';
import { ErrorCard } from './ErrorCard';
import { useRequest } from './useRequest';

interface ICompareProps {
  client: MlopsClient;
  runIds: string[];
  trans: TranslationBundle;
}

/** Rows of parameters side by side, each marked when the runs disagree on it. */
export function parameterRows(
  runs: RunSummary[]
): { key: string; values: (string | undefined)[]; differs: boolean }[] {
  const keys = Array.from(
    new Set(runs.flatMap(r => Object.keys(r.params)))
  ).sort();
  return keys.map(key => {
    const values = runs.map(r => r.params[key]);
    return { key, values, differs: new Set(values).size > 1 };
  });
}

/** Points of a parameter-against-metric scatter: one series per run. Numeric parameter
 * values are plotted as numbers; others as categories. */
export function scatterSeries(
  runs: RunSummary[],
  param: string,
  metric: string
): { series: IChartSeries[]; categories?: string[] } {
  const usable = runs.filter(
    r =>
      r.params[param] !== undefined &&
      r.metrics[metric] !== undefined &&
      r.metrics[metric] !== null
  );
  const numeric = usable.every(
    r => r.params[param].trim() !== '' && !isNaN(Number(r.params[param]))
  );
  const categories = numeric
    ? undefined
    : Array.from(new Set(usable.map(r => r.params[param]))).sort();
  const series = usable.map(r => ({
    label: r.run_name,
    points: [
      [
        numeric
          ? Number(r.params[param])
          : categories!.indexOf(r.params[param]),
        Number(r.metrics[metric])
      ] as [number, number]
    ]
  }));
  return { series, categories };
}

/** The runs compared, and the histories of their metrics (ours left out), by key. */
async function loadComparison(
  client: MlopsClient,
  runIds: string[]
): Promise<{
  runs: RunSummary[];
  histories: Record<string, MetricHistory[]>;
  metricKeys: string[];
}> {
  const details = await Promise.all(runIds.map(id => client.run(id)));
  const runs = details.map(d => d.run);
  const keys = Array.from(
    new Set(runs.flatMap(r => Object.keys(r.metrics)))
  ).filter(k => !k.startsWith('jupyter_mlops.'));
  const histories: Record<string, MetricHistory[]> = {};
  for (const key of keys.slice(0, 8)) {
    histories[key] = await Promise.all(
      runs.map(r =>
        r.metrics[key] === undefined
          ? Promise.resolve({
              key,
              points: [],
              downsampled: false
            } as MetricHistory)
          : client.metricHistory(r.run_id, key)
      )
    );
  }
  return { runs, histories, metricKeys: keys };
}

/** Two or more runs side by side: parameter differences, overlaid metric histories, and
 * a parameter against a metric. */
export function CompareView(props: ICompareProps): JSX.Element {
  const { client, runIds, trans } = props;
  // A new list of the same runs (the parent renders again) is not a new request.
  const ids = runIds.join(',');
  const loaded = useRequest(
    () => loadComparison(client, ids ? ids.split(',') : []),
    [client, ids]
  );
  const [param, setParam] = React.useState('');
  const [metric, setMetric] = React.useState('');

  if (loaded.error) {
    return (
      <ErrorCard error={loaded.error} trans={trans} onRetry={loaded.retry} />
    );
  }
  if (!loaded.value || loaded.value.runs.length === 0) {
    return (
      <div className="jp-mlops-Placeholder">
        {trans.__('Loading the runs…')}
      </div>
    );
  }
  const { runs, histories, metricKeys } = loaded.value;
  const rows = parameterRows(runs);
  // Until the person picks: the first parameter the runs disagree on, the first metric.
  const shownParam = param || (rows.find(r => r.differs) ?? rows[0])?.key || '';
  const shownMetric = metric || metricKeys[0] || '';
  const scatter =
    shownParam && shownMetric
      ? scatterSeries(runs, shownParam, shownMetric)
      : null;
  return (
    <div className="jp-mlops-Compare">
      <section>
        <h3>{trans.__('Parameters')}</h3>
        <table className="jp-mlops-CompareTable">
          <thead>
            <tr>
              <th>{trans.__('parameter')}</th>
              {runs.map(r => (
                <th key={r.run_id}>{r.run_name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(row => (
              <tr key={row.key} className={row.differs ? 'jp-mod-differs' : ''}>
                <td>{row.key}</td>
                {row.values.map((value, i) => (
                  <td key={i}>
                    <code>{value ?? '—'}</code>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>{trans.__('Metrics')}</h3>
        {Object.entries(histories).map(([key, perRun]) => {
          const stepped = perRun.some(h => h.points.length > 1);
          const series = runs.map((r, i) => ({
            label: r.run_name,
            points: stepped
              ? perRun[i].points.map(
                  p => [p.step, p.value] as [number, number | null]
                )
              : r.metrics[key] === undefined
                ? []
                : ([[i, r.metrics[key]]] as [number, number | null][])
          }));
          return (
            <div key={key} className="jp-mlops-MetricChart">
              <div className="jp-mlops-MetricChart-title">{key}</div>
              <Chart
                series={series}
                xLabel={stepped ? trans.__('step') : trans.__('run')}
                mode={stepped ? 'line' : 'scatter'}
                xCategories={stepped ? undefined : runs.map(r => r.run_name)}
              />
            </div>
          );
        })}
      </section>
      <section>
        <h3>{trans.__('Parameter against metric')}</h3>
        <div className="jp-mlops-ScatterControls">
          <HTMLSelect
            aria-label={trans.__('Parameter')}
            value={shownParam}
            onChange={event => setParam(event.target.value)}
          >
            {rows.map(row => (
              <option key={row.key} value={row.key}>
                {row.key}
              </option>
            ))}
          </HTMLSelect>
          <HTMLSelect
            aria-label={trans.__('Metric')}
            value={shownMetric}
            onChange={event => setMetric(event.target.value)}
          >
            {Object.keys(histories).map(key => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </HTMLSelect>
        </div>
        {scatter && scatter.series.length > 0 ? (
          <Chart
            series={scatter.series}
            xLabel={shownParam}
            yLabel={shownMetric}
            mode="scatter"
            xCategories={scatter.categories}
          />
        ) : (
          <div className="jp-mlops-Muted">
            {trans.__('No run has both this parameter and this metric.')}
          </div>
        )}
      </section>
    </div>
  );
}
