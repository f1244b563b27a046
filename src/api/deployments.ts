/**
 * Calls to the deployment routes (`/jupyter-mlops/deployments/...`): a job deployed onto
 * an engine (Airflow first), its runs there, run now, pause and resume, cancel. The list
 * answers every deployment with its latest runs in one request, so following them costs
 * the engine one request per refresh.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import type { TaskRecord } from './types';

/** A run's state on its engine. */
export type DeploymentRunState =
  'queued' | 'running' | 'success' | 'failed' | 'unknown';

/** One run of a deployment on its engine. */
export interface IDeploymentRun {
  run_id: string;
  state: DeploymentRunState;
  /** ISO 8601. */
  start?: string | null;
  end?: string | null;
  /** Seconds. */
  duration?: number | null;
  try_number?: number | null;
  parameters?: Record<string, unknown>;
  mlflow_run_id?: string | null;
  /** The output notebook, where known. */
  output?: string | null;
  /** The notebook cell that failed: `[N] its first line`. */
  failed_cell?: string | null;
  error?: string | null;
}

/** A job deployed onto an engine. */
export interface IDeployment {
  name: string;
  /** The job folder (relative to the server's root when inside it). */
  job: string;
  engine: string;
  url: string;
  schedule?: string | null;
  paused: boolean;
  image?: string;
  image_digest?: string | null;
  parameters?: Record<string, unknown>;
  options?: Record<string, unknown>;
  deployed_by?: string;
  deployed_at?: string;
  /** Newest first, up to 5 (in the list). */
  latest_runs?: IDeploymentRun[];
  /** Every run (one deployment's answer). */
  runs?: IDeploymentRun[];
}

export interface IEngineError {
  engine: string;
  url: string;
  message: string;
}

export interface IDeploymentList {
  deployments: IDeployment[];
  engine_errors: IEngineError[];
}

export interface IDeployRequest {
  job: string;
  engine: 'airflow';
  paused: boolean;
  options: Record<string, unknown>;
}

function path(name: string, ...rest: string[]): string {
  return ['deployments', name, ...rest].map(encodeURIComponent).join('/');
}

export class DeploymentsClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** Every deployment with its latest runs: one request, one engine call. */
  list(): Promise<IDeploymentList> {
    return requestAPI<IDeploymentList>('deployments', {}, this.serverSettings);
  }

  get(name: string): Promise<IDeployment> {
    return requestAPI<IDeployment>(path(name), {}, this.serverSettings);
  }

  /** Deploy a job: a task (`deploy`) the task model follows to its end. */
  deploy(request: IDeployRequest): Promise<{ task: TaskRecord }> {
    return requestAPI<{ task: TaskRecord }>(
      'deployments',
      { method: 'POST', body: JSON.stringify(request) },
      this.serverSettings
    );
  }

  async remove(name: string): Promise<void> {
    await requestAPI<unknown>(
      path(name),
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  pause(name: string): Promise<IDeployment> {
    return requestAPI<IDeployment>(
      path(name, 'pause'),
      { method: 'POST' },
      this.serverSettings
    );
  }

  resume(name: string): Promise<IDeployment> {
    return requestAPI<IDeployment>(
      path(name, 'resume'),
      { method: 'POST' },
      this.serverSettings
    );
  }

  runs(name: string): Promise<{ runs: IDeploymentRun[] }> {
    return requestAPI<{ runs: IDeploymentRun[] }>(
      path(name, 'runs'),
      {},
      this.serverSettings
    );
  }

  /** Run now; a 400 with `fields` (`parameters.<name>`) names each bad value. */
  trigger(
    name: string,
    parameters: Record<string, unknown>
  ): Promise<IDeploymentRun> {
    return requestAPI<IDeploymentRun>(
      path(name, 'runs'),
      { method: 'POST', body: JSON.stringify({ parameters }) },
      this.serverSettings
    );
  }

  logs(name: string, runId: string): Promise<{ text: string }> {
    return requestAPI<{ text: string }>(
      path(name, 'runs', runId, 'logs'),
      {},
      this.serverSettings
    );
  }

  cancel(name: string, runId: string): Promise<IDeploymentRun> {
    return requestAPI<IDeploymentRun>(
      path(name, 'runs', runId, 'cancel'),
      { method: 'POST' },
      this.serverSettings
    );
  }
}
