/**
 * Calls to the Data routes (`/jupyter-mlops/data/...`). Long operations (snapshot,
 * restore, push, pull) start a task that {@link DataClient.waitForTask} follows to the end
 * (a {@link TaskModel}, as every task is followed).
 */
import { ServerConnection } from '@jupyterlab/services';

import { MlopsApiError, queryString, requestAPI } from './request';
import type { components } from './schema';
import { TASK_POLL_INTERVAL, TaskModel } from '../tasks/model';

type Schemas = components['schemas'];

export type DataPaths = Schemas['DataPaths'];
export type DataPathSummary = Schemas['DataPathSummary'];
export type DataHistory = Schemas['DataHistory'];
export type DataVersionEntry = Schemas['DataVersionEntry'];
export type DataDiff = Schemas['DataDiff'];
export type DataTask = Schemas['DataTask'];
export type DataTasks = Schemas['DataTasks'];
export type RunData = Schemas['RunData'];
export type RunDataPath = Schemas['RunDataPath'];
export type SnapshotRequest = Schemas['SnapshotRequest'];
export type RestoreRequest = Schemas['RestoreRequest'];
export type TransferRequest = Schemas['TransferRequest'];

export class DataClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  paths(): Promise<DataPaths> {
    return requestAPI<DataPaths>('data/paths', {}, this.serverSettings);
  }

  history(path: string): Promise<DataHistory> {
    return requestAPI<DataHistory>(
      `data/history${queryString({ path })}`,
      {},
      this.serverSettings
    );
  }

  diff(path: string, a: string, b = 'workspace'): Promise<DataDiff> {
    return requestAPI<DataDiff>(
      `data/diff${queryString({ path, a, b })}`,
      {},
      this.serverSettings
    );
  }

  runData(runId: string): Promise<RunData> {
    return requestAPI<RunData>(
      `data/runs/${encodeURIComponent(runId)}`,
      {},
      this.serverSettings
    );
  }

  snapshot(request: SnapshotRequest): Promise<DataTask> {
    return this._post('data/snapshots', request);
  }

  /**
   * Start a restore. Rejects with code `local_changes` (HTTP 409) when changes that no
   * snapshot holds would be lost: ask, then call again with `force: true`.
   */
  restore(request: RestoreRequest): Promise<DataTask> {
    return this._post('data/restore', request);
  }

  push(request: TransferRequest = {}): Promise<DataTask> {
    return this._post('data/push', request);
  }

  pull(request: TransferRequest = {}): Promise<DataTask> {
    return this._post('data/pull', request);
  }

  task(taskId: string): Promise<DataTask> {
    return requestAPI<DataTask>(
      `data/tasks/${encodeURIComponent(taskId)}`,
      {},
      this.serverSettings
    );
  }

  /** Recent data tasks, newest first (those of earlier servers too). */
  tasks(): Promise<DataTasks> {
    return requestAPI<DataTasks>('data/tasks', {}, this.serverSettings);
  }

  cancel(taskId: string): Promise<DataTask> {
    return requestAPI<DataTask>(
      `data/tasks/${encodeURIComponent(taskId)}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /**
   * Poll a task until it ends, handing every state to `onProgress`. Resolves with the
   * finished task; a failed or cancelled task rejects with its error.
   */
  async waitForTask(
    task: DataTask,
    onProgress: (task: DataTask) => void = () => undefined,
    interval = TASK_POLL_INTERVAL
  ): Promise<DataTask> {
    const model = new TaskModel<DataTask>({
      task,
      fetch: taskId => this.task(taskId),
      interval,
      name: 'jupyter-mlops:data-task'
    });
    onProgress(task);
    model.changed.connect(() => onProgress(model.task));
    let current: DataTask;
    try {
      current = await model.follow();
    } finally {
      model.dispose();
    }
    if (current.state !== 'done') {
      const error = current.error;
      throw new MlopsApiError(
        error?.message ?? current.state,
        409,
        error?.code ?? current.state
      );
    }
    return current;
  }

  private _post(route: string, body: unknown): Promise<DataTask> {
    return requestAPI<DataTask>(
      route,
      { method: 'POST', body: JSON.stringify(body) },
      this.serverSettings
    );
  }
}

/** "1.5 GiB" style text for a size in bytes. */
export function bytesText(size: number | null | undefined): string {
  if (size === null || size === undefined) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The first characters of a DVC md5, with `.dir` kept for folders. */
export function shortMd5(md5: string): string {
  return md5.endsWith('.dir') ? `${md5.slice(0, 10)}.dir` : md5.slice(0, 10);
}

/** A task's progress in percent, or null while its total is unknown. */
export function taskPercent(task: DataTask): number | null {
  if (!task.total) {
    return null;
  }
  return Math.min(100, Math.round((task.done / task.total) * 100));
}
