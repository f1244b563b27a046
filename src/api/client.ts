import { ServerConnection } from '@jupyterlab/services';

import {
  API_PREFIX,
  MlopsApiError,
  errorFromResponse,
  queryString,
  requestAPI
} from './request';
import { URLExt } from '@jupyterlab/coreutils';
import { readNdjson } from './ndjson';
import type {
  ArtifactList,
  BuildProgressEvent,
  BuildRequest,
  ExportCheck,
  ExportRequest,
  ExportTargetList,
  ExperimentsResponse,
  IExperimentsQuery,
  IRunsQuery,
  JobExecution,
  JobExecutionList,
  JobInfo,
  JobRunRequest,
  JobsList,
  MetricHistory,
  RunDetails,
  RunSummary,
  RunUpdate,
  RunsPage,
  StatusResponse,
  TaskList,
  TaskRecord
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

  /** The job folders under the server's root, with their last build. */
  jobs(): Promise<JobsList> {
    return requestAPI<JobsList>('jobs', {}, this.serverSettings);
  }

  /** The export targets installed on the server (built in and plugins). */
  exportTargets(): Promise<ExportTargetList> {
    return requestAPI<ExportTargetList>(
      'jobs/targets',
      {},
      this.serverSettings
    );
  }

  /**
   * Check an export request in full without exporting: every problem, each with the
   * field it names (`POST jobs/export` refuses with the same ones).
   */
  validateExport(
    request: ExportRequest,
    init: RequestInit = {}
  ): Promise<ExportCheck> {
    return requestAPI<ExportCheck>(
      'jobs/export/validate',
      { ...init, method: 'POST', body: JSON.stringify(request) },
      this.serverSettings
    );
  }

  /** Export a notebook to a job folder. */
  exportJob(request: ExportRequest): Promise<JobInfo> {
    return requestAPI<JobInfo>(
      'jobs/export',
      { method: 'POST', body: JSON.stringify(request) },
      this.serverSettings
    );
  }

  /**
   * Build a job's image, handing each progress event to `onEvent` as the server streams
   * it. Resolves with the last event: `done` (with the build) or `error` (a failure during
   * the build). Errors found before the build starts (no such job, no container engine:
   * 503 `no_container_engine`) reject with an MlopsApiError, as other calls do.
   */
  async buildJob(
    request: BuildRequest,
    onEvent: (event: BuildProgressEvent) => void,
    signal?: AbortSignal
  ): Promise<BuildProgressEvent> {
    const url = URLExt.join(
      this.serverSettings.baseUrl,
      API_PREFIX,
      'jobs/build'
    );
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        { method: 'POST', body: JSON.stringify(request), signal },
        this.serverSettings
      );
    } catch (error) {
      throw new MlopsApiError(
        `Cannot reach the Jupyter server: ${(error as Error).message}`,
        0,
        'network_error'
      );
    }
    if (!response.ok) {
      throw errorFromResponse(response.status, await response.text());
    }
    if (!response.body) {
      throw new MlopsApiError(
        'The browser cannot read the build progress as it arrives.',
        0,
        'no_stream'
      );
    }
    let last: BuildProgressEvent | null = null;
    try {
      await readNdjson<BuildProgressEvent>(response.body.getReader(), event => {
        last = event;
        onEvent(event);
      });
    } catch (error) {
      if (error instanceof MlopsApiError) {
        throw error;
      }
      throw new MlopsApiError(
        `The build progress stopped: ${(error as Error).message}`,
        0,
        'network_error'
      );
    }
    const final = last as BuildProgressEvent | null;
    if (!final || (final.event !== 'done' && final.event !== 'error')) {
      throw new MlopsApiError(
        'The build stream ended before the build finished; the server may have stopped. The job list shows the build once it is recorded.',
        0,
        'stream_ended'
      );
    }
    return final;
  }

  /**
   * Start building (and pushing) a job's image as a task; follow it with {@link task}
   * (a {@link TaskModel}). Errors found before the build starts reject as usual.
   */
  startBuild(request: BuildRequest): Promise<TaskRecord> {
    return requestAPI<TaskRecord>(
      'jobs/builds',
      { method: 'POST', body: JSON.stringify(request) },
      this.serverSettings
    );
  }

  /** Recent tasks (long work of every kind), newest first; of one kind or state. */
  tasks(
    query: { kind?: string; state?: TaskRecord['state'] } = {}
  ): Promise<TaskList> {
    return requestAPI<TaskList>(
      `tasks${queryString({ ...query })}`,
      {},
      this.serverSettings
    );
  }

  /** One task: its progress, then its result or error. */
  task(taskId: string): Promise<TaskRecord> {
    return requestAPI<TaskRecord>(
      `tasks/${encodeURIComponent(taskId)}`,
      {},
      this.serverSettings
    );
  }

  /** Ask a running task to stop. */
  cancelTask(taskId: string): Promise<TaskRecord> {
    return requestAPI<TaskRecord>(
      `tasks/${encodeURIComponent(taskId)}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /** The job runs this server started, newest first. */
  jobExecutions(): Promise<JobExecutionList> {
    return requestAPI<JobExecutionList>('jobs/runs', {}, this.serverSettings);
  }

  /** Run a job (locally or in its image); the server checks the parameters first. */
  runJob(request: JobRunRequest): Promise<JobExecution> {
    return requestAPI<JobExecution>(
      'jobs/runs',
      { method: 'POST', body: JSON.stringify(request) },
      this.serverSettings
    );
  }

  /** A job run: status, exit code, output notebook and the log's last lines. */
  jobExecution(executionId: string): Promise<JobExecution> {
    return requestAPI<JobExecution>(
      `jobs/runs/${encodeURIComponent(executionId)}`,
      {},
      this.serverSettings
    );
  }

  /** Stop a job run as Ctrl-C does. */
  stopJobExecution(executionId: string): Promise<JobExecution> {
    return requestAPI<JobExecution>(
      `jobs/runs/${encodeURIComponent(executionId)}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }
}
