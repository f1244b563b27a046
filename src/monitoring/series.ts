/**
 * The monitoring charts' series, from a job's or a deployment's history: runs along the
 * x axis oldest to newest (their start dates as the axis' categories), so runs days apart
 * and runs minutes apart read the same way.
 */
import type { IChartSeries } from '../components/Chart';
import type { MonitoringHistory } from '../api/monitoring';

/** The metric a drift check logs (the share of drifted columns). */
export const DRIFT_METRIC = 'drift_share';

export interface IMonitoringSeries {
  /** The x axis' labels: each run's start, short. */
  categories: string[];
  /** Duration in seconds, as two series: the runs that succeeded and those that failed. */
  outcome: IChartSeries[];
  /** One chart per chosen metric (the drift share apart). */
  metrics: { name: string; series: IChartSeries[] }[];
  /** The drift share, when the runs have it. */
  drift: IChartSeries[] | null;
  /** When the newest successful run started (ms), or null. */
  lastSuccess: number | null;
}

/** A start time as the axis shows it: "12-06 05:21". */
export function shortDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const date = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

export function monitoringSeries(
  history: MonitoringHistory,
  labels: { succeeded: string; failed: string }
): IMonitoringSeries {
  const runs = history.runs;
  const categories = runs.map(run => shortDate(run.start_time));
  const durationOf = (success: boolean) =>
    runs.flatMap((run, i): [number, number | null][] =>
      run.success === success ? [[i, run.duration ?? null]] : []
    );
  const metricSeries = (name: string): IChartSeries[] => [
    {
      label: name,
      points: runs.flatMap((run, i): [number, number | null][] =>
        name in run.metrics ? [[i, finite(run.metrics[name])]] : []
      )
    }
  ];
  const succeeded = runs.filter(run => run.success === true);
  return {
    categories,
    outcome: [
      { label: labels.succeeded, points: durationOf(true) },
      { label: labels.failed, points: durationOf(false) }
    ],
    metrics: history.metrics
      .filter(name => name !== DRIFT_METRIC)
      .map(name => ({ name, series: metricSeries(name) }))
      .filter(chart => chart.series[0].points.length > 0),
    drift: history.metrics.includes(DRIFT_METRIC)
      ? metricSeries(DRIFT_METRIC)
      : null,
    lastSuccess: succeeded.length
      ? (succeeded[succeeded.length - 1].start_time ?? null)
      : null
  };
}

function finite(value: number | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
