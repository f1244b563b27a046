import { ServerConnection } from '@jupyterlab/services';

import {
  API_PREFIX,
  MlopsApiError,
  errorFromResponse,
  queryString,
  requestAPI
} from './request';
import { URLExt } from '@jupyterlab/coreutils';
import type {
  ArtifactList,
  ExperimentsResponse,
  IExperimentsQuery,
  IRunsQuery,
  MetricHistory,
  RunDetails,
  RunSummary,
  RunUpdate,
  RunsPage,
  StatusResponse
} from './types';

/** Typed calls to the jupyter-mlops REST API. */
export class MlopsClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  status(): Promise<StatusResponse> {
    return requestAPI<StatusResponse>('status', {}, this.serverSettings);
  }

  experiments(query: IExperimentsQuery = {}): Promise<ExperimentsResponse> {
    return requestAPI<ExperimentsResponse>(
      `experiments${queryString({ ...query })}`,
      {},
      this.serverSettings
    );
  }

  runs(query: IRunsQuery): Promise<RunsPage> {
    return requestAPI<RunsPage>(
      `runs${queryString({ ...query })}`,
      {},
      this.serverSettings
    );
  }

  run(runId: string): Promise<RunDetails> {
    return requestAPI<RunDetails>(
      `runs/${encodeURIComponent(runId)}`,
      {},
      this.serverSettings
    );
  }

  metricHistory(runId: string, key: string): Promise<MetricHistory> {
    return requestAPI<MetricHistory>(
      `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}`,
      {},
      this.serverSettings
    );
  }

  artifacts(runId: string, path = ''): Promise<ArtifactList> {
    return requestAPI<ArtifactList>(
      `runs/${encodeURIComponent(runId)}/artifacts${queryString({ path: path || undefined })}`,
      {},
      this.serverSettings
    );
  }

  /** An artifact's bytes (images and text are previewed from these). */
  async artifact(runId: string, path: string): Promise<Blob> {
    const url = URLExt.join(
      this.serverSettings.baseUrl,
      API_PREFIX,
      `runs/${encodeURIComponent(runId)}/artifact${queryString({ path })}`
    );
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        {},
        this.serverSettings
      );
    } catch (error) {
      throw new MlopsApiError(String(error), 0, 'network_error');
    }
    if (!response.ok) {
      throw errorFromResponse(response.status, await response.text());
    }
    return response.blob();
  }

  updateRun(runId: string, update: RunUpdate): Promise<RunSummary> {
    return requestAPI<RunSummary>(
      `runs/${encodeURIComponent(runId)}`,
      { method: 'PATCH', body: JSON.stringify(update) },
      this.serverSettings
    );
  }

  async deleteRun(runId: string): Promise<void> {
    await requestAPI<unknown>(
      `runs/${encodeURIComponent(runId)}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  restoreRun(runId: string): Promise<RunSummary> {
    return requestAPI<RunSummary>(
      `runs/${encodeURIComponent(runId)}/restore`,
      { method: 'POST' },
      this.serverSettings
    );
  }
}
