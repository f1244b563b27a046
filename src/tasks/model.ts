/**
 * The one way the frontend follows long work on the server (a snapshot, a restore, a
 * push or pull, a build, a job run): a {@link TaskModel} polls the task until it ends,
 * on the same Lumino poll as every model ({@link PollingModel}), so a hidden page stands
 * by and failed looks back off. A reloaded page finds running tasks through
 * `GET tasks` and follows them the same way.
 */
import { MlopsApiError, asApiError } from '../api/request';
import type { TaskRecord } from '../api/types';
import { PollingModel } from '../polling';

/** How often a running task is looked at, in milliseconds. */
export const TASK_POLL_INTERVAL = 300;

/** What every task answer has, whatever its route's shape (tasks/…, data/tasks/…). */
export interface ITaskLike {
  task_id: string;
  state: TaskRecord['state'];
}

export interface ITaskModelOptions<T extends ITaskLike> {
  /** The task as last answered (by the route that started it, or `GET tasks`). */
  task: T;
  /** One look at the task by its id. */
  fetch: (taskId: string) => Promise<T>;
  /** Ask the server to stop it (DELETE); answers the task. */
  cancel?: (taskId: string) => Promise<T>;
  /** Milliseconds between two looks (default {@link TASK_POLL_INTERVAL}). */
  interval?: number;
  name?: string;
}

/**
 * One task followed to its end. `changed` fires at each answer; {@link follow} resolves
 * with the task once it is no longer running. Failed looks are retried (backing off);
 * a 4xx answer (the task is gone, say) ends the following with that error.
 */
export class TaskModel<T extends ITaskLike = TaskRecord> extends PollingModel {
  constructor(options: ITaskModelOptions<T>) {
    super({
      name: options.name ?? 'jupyter-mlops:task',
      interval: options.interval ?? TASK_POLL_INTERVAL,
      max: 10 * 1000
    });
    this._task = options.task;
    this._fetch = options.fetch;
    this._cancel = options.cancel ?? null;
    this._ended = new Promise<T>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this._ended.catch(() => undefined); // handled by whoever follows
  }

  /** The task as last seen. */
  get task(): T {
    return this._task;
  }

  /** Whether it still runs (as last seen). */
  get running(): boolean {
    return this._task.state === 'running';
  }

  /** The last look's failure (cleared by the next answer). */
  get error(): MlopsApiError | null {
    return this._error;
  }

  /** Look at the task until it ends; resolves with the ended task. */
  follow(): Promise<T> {
    if (!this.running) {
      this._resolve(this._task);
    } else if (!this.polling) {
      this.startPolling(false);
    }
    return this._ended;
  }

  /** Ask the server to stop the task; it ends `cancelled` at its next safe point. */
  async cancel(): Promise<void> {
    if (this._cancel === null || !this.running) {
      return;
    }
    this._update(await this._cancel(this._task.task_id));
    this.pollNow();
  }

  dispose(): void {
    if (this.running) {
      this._reject(new MlopsApiError('No longer followed.', 0, 'aborted'));
    }
    super.dispose();
  }

  protected async look(): Promise<void> {
    if (this.isDisposed || !this.running) {
      return;
    }
    let next: T;
    try {
      next = await this._fetch(this._task.task_id);
    } catch (error) {
      this._error = asApiError(error);
      this.emit();
      if (this._error.status >= 400 && this._error.status < 500) {
        this.stopPolling();
        this._reject(this._error);
        return;
      }
      throw error; // the poll backs off
    }
    this._update(next);
  }

  private _update(next: T): void {
    if (this.isDisposed) {
      return;
    }
    this._task = next;
    this._error = null;
    this.emit();
    if (!this.running) {
      this.stopPolling();
      this._resolve(next);
    }
  }

  private _task: T;
  private _error: MlopsApiError | null = null;
  private _fetch: (taskId: string) => Promise<T>;
  private _cancel: ((taskId: string) => Promise<T>) | null;
  private _ended: Promise<T>;
  private _resolve: (task: T) => void = () => undefined;
  private _reject: (error: unknown) => void = () => undefined;
}
