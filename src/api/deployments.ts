/**
 * Calls to the deployment routes (`/jupyter-mlops/deployments/...`): a job deployed onto
 * an engine (Airflow first), its runs there, run now, pause and resume, cancel. The list
 * answers every deployment with its latest runs in one request, so following them costs
 * the engine one request per refresh.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import type { components } from './schema';
import type { TaskRecord } from './types';

type Schemas = components['schemas'];

/** One run of a deployment on its engine. */
export type IDeploymentRun = Schemas['DeploymentRun'];
/** A run's state on its engine. */
export type DeploymentRunState = IDeploymentRun['state'];
/** A deployment with its latest runs (the list) or all its runs (one deployment). */
export type IDeployment = Schemas['DeploymentWithRuns'];
/** What pause and resume answer: the deployment as recorded. */
export type IDeploymentInfo = Schemas['DeploymentInfo'];
export type IEngineError = Schemas['EngineError'];
export type IDeploymentList = Schemas['DeploymentList'];
export type IDeployRequest = Schemas['DeployRequest'];

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
  deploy(request: IDeployRequest): Promise<TaskRecord> {
    return requestAPI<TaskRecord>(
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

  pause(name: string): Promise<IDeploymentInfo> {
    return requestAPI<IDeploymentInfo>(
      path(name, 'pause'),
      { method: 'POST' },
      this.serverSettings
    );
  }

  resume(name: string): Promise<IDeploymentInfo> {
    return requestAPI<IDeploymentInfo>(
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
