/**
 * The monitoring route: a job's or a deployment's runs over time (outcome, duration,
 * chosen metrics, the drift share), read from the tracking store.
 */
import { ServerConnection } from '@jupyterlab/services';

import { queryString, requestAPI } from './request';
import type { components } from './schema';

type Schemas = components['schemas'];

export type MonitoringHistory = Schemas['MonitoringHistory'];
export type MonitoredRun = Schemas['MonitoredRun'];
export type MonitoredKind = MonitoringHistory['kind'];

export interface IHistoryQuery {
  /** Metric names to chart; none: every metric the runs have. */
  metrics?: string[];
  /** The newest runs to read. */
  limit?: number;
}

export class MonitoringClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  history(
    kind: MonitoredKind,
    name: string,
    query: IHistoryQuery = {}
  ): Promise<MonitoringHistory> {
    const folder = kind === 'job' ? 'jobs' : 'deployments';
    return requestAPI<MonitoringHistory>(
      `monitoring/${folder}/${encodeURIComponent(name)}${queryString({
        metrics: query.metrics?.length ? query.metrics.join(',') : undefined,
        limit: query.limit
      })}`,
      {},
      this.serverSettings
    );
  }
}
