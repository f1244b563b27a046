import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobExecution, JobInfo } from '../api/types';

/** How often the list is refreshed while one of its executions runs, in milliseconds. */
export const RUNNING_INTERVAL = 3000;

/**
 * The Jobs section's state: the job folders under the server's root and the executions
 * this server started. Refreshed with the panel, and more often while a job runs.
 */
export class JobsModel implements IDisposable {
  constructor(readonly client: MlopsClient) {
    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: this._interval, backoff: false },
      name: 'jupyter-mlops:jobs',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get jobs(): JobInfo[] {
    return this._jobs;
  }

  get executions(): JobExecution[] {
    return this._executions;
  }

  get error(): MlopsApiError | null {
    return this._error;
  }

  get loading(): boolean {
    return this._pending > 0;
  }

  /** Whether the list was loaded at least once. */
  get loaded(): boolean {
    return this._loaded;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Executions of one job folder, newest first. */
  executionsOf(path: string): JobExecution[] {
    return this._executions.filter(e => e.job === path);
  }

  /** The refresh interval in seconds (0: only on demand and while a job runs). */
  configure(refreshInterval: number): void {
    this._interval = refreshInterval > 0 ? refreshInterval * 1000 : Poll.NEVER;
    this._schedule();
  }

  /** Load for the first time and start the poll. */
  async start(): Promise<void> {
    if (this._started) {
      return;
    }
    this._started = true;
    // The poll's first tick, right away, is the first load.
    await this._poll.start();
  }

  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    this._pending++;
    this._changed.emit();
    try {
      const [jobs, executions] = await Promise.all([
        this.client.jobs(),
        this.client.jobExecutions()
      ]);
      if (ticket === this._ticket) {
        this._jobs = jobs.jobs;
        this._executions = executions.executions;
        this._error = null;
        this._loaded = true;
      }
    } catch (error) {
      if (ticket === this._ticket) {
        this._error = asApiError(error);
      }
    } finally {
      this._pending--;
      if (!this._isDisposed) {
        this._schedule();
        this._changed.emit();
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** Poll fast while something runs, else at the configured interval. */
  private _schedule(): void {
    const running = this._executions.some(e => e.status === 'running');
    const interval = running
      ? Math.min(RUNNING_INTERVAL, this._interval)
      : this._interval;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
      if (this._started) {
        // The tick already scheduled would still wait for the old interval.
        void this._poll.schedule({ interval });
      }
    }
  }

  private _changed = new Signal<this, void>(this);
  private _jobs: JobInfo[] = [];
  private _executions: JobExecution[] = [];
  private _error: MlopsApiError | null = null;
  private _pending = 0;
  private _ticket = 0;
  private _loaded = false;
  private _interval = 30 * 1000;
  private _poll: Poll;
  private _started = false;
  private _isDisposed = false;
}
