import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobExecution, JobInfo } from '../api/types';
import { PollingModel } from '../polling';

/** How often the list is refreshed while one of its executions runs, in milliseconds. */
export const RUNNING_INTERVAL = 3000;

/**
 * The Jobs section's state: the job folders under the server's root and the executions
 * this server started. Refreshed with the panel, and more often while a job runs.
 */
export class JobsModel extends PollingModel {
  constructor(readonly client: MlopsClient) {
    super({ name: 'jupyter-mlops:jobs', interval: 30 * 1000 });
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

  /** Why the last Stop asked from the list failed, until one succeeds. */
  get stopError(): MlopsApiError | null {
    return this._stopError;
  }

  /** Whether the list was loaded at least once. */
  get loaded(): boolean {
    return this._loaded;
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
  start(): void {
    // The poll's first look, right away, is the first load.
    this.startPolling();
  }

  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    this._pending++;
    this.emit();
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
      this._schedule();
      this.emit();
    }
  }

  /** Interrupt an execution of the list (as Ctrl-C does), then show the list again. */
  async stop(executionId: string): Promise<void> {
    try {
      await this.client.stopJobExecution(executionId);
      this._stopError = null;
    } catch (error) {
      this._stopError = asApiError(error);
    }
    await this.refresh();
  }

  /** Forget why the last Stop failed (the person read it). */
  dismissStopError(): void {
    this._stopError = null;
    this.emit();
  }

  /** The poll's look; a failure makes the poll back off. */
  protected async look(): Promise<void> {
    await this.refresh();
    if (this._error) {
      throw this._error;
    }
  }

  /** Poll fast while something runs, else at the configured interval. */
  private _schedule(): void {
    const running = this._executions.some(e => e.status === 'running');
    this.setPollInterval(
      running ? Math.min(RUNNING_INTERVAL, this._interval) : this._interval
    );
  }

  private _jobs: JobInfo[] = [];
  private _executions: JobExecution[] = [];
  private _error: MlopsApiError | null = null;
  private _stopError: MlopsApiError | null = null;
  private _pending = 0;
  private _ticket = 0;
  private _loaded = false;
  private _interval = 30 * 1000;
}

/** How often a running execution is asked about, in milliseconds. */
export const EXECUTION_POLL_MS = 1500;

/**
 * One job execution followed until it ends (a run from the Run pane, or one listed in
 * the Jobs section): asked about every {@link EXECUTION_POLL_MS} ms while it runs, with
 * Stop. An error is kept for the view while the poll backs off; the first answer after
 * it clears it.
 */
export class ExecutionModel extends PollingModel {
  constructor(
    readonly client: MlopsClient,
    execution: JobExecution,
    interval: number = EXECUTION_POLL_MS
  ) {
    super({ name: 'jupyter-mlops:execution', interval, max: 30 * 1000 });
    this._execution = execution;
    this._followIfRunning();
  }

  get execution(): JobExecution {
    return this._execution;
  }

  get error(): MlopsApiError | null {
    return this._error;
  }

  get stopping(): boolean {
    return this._stopping;
  }

  /** Emitted once per execution, when it is seen to be over. */
  get finished(): ISignal<this, JobExecution> {
    return this._finished;
  }

  /**
   * Follow another execution (the job was run again); the one followed already is kept
   * (its own answers are newer than what the caller holds).
   */
  follow(execution: JobExecution): void {
    if (execution.execution_id === this._execution.execution_id) {
      return;
    }
    this._execution = execution;
    this._error = null;
    this.emit();
    this.stopPolling();
    this._followIfRunning();
  }

  /** Ask again now (after an error). */
  retry(): void {
    this._error = null;
    this.emit();
    this.pollNow();
  }

  /** Interrupt the execution as Ctrl-C does. */
  async stop(): Promise<void> {
    const id = this._execution.execution_id;
    this._stopping = true;
    this.emit();
    try {
      const next = await this.client.stopJobExecution(id);
      if (id === this._execution.execution_id) {
        this._update(next);
      }
    } catch (error) {
      this._error = asApiError(error);
    } finally {
      this._stopping = false;
      this.emit();
    }
  }

  protected async look(): Promise<void> {
    const id = this._execution.execution_id;
    try {
      const next = await this.client.jobExecution(id);
      if (id === this._execution.execution_id) {
        this._error = null;
        this._update(next);
      }
    } catch (error) {
      if (id === this._execution.execution_id) {
        this._error = asApiError(error);
        this.emit();
      }
      throw error;
    }
  }

  private _followIfRunning(): void {
    if (this._execution.status === 'running') {
      // The execution was just read: the first look is one interval away.
      this.startPolling(false);
    }
  }

  private _update(next: JobExecution): void {
    this._execution = next;
    if (next.status !== 'running') {
      this.stopPolling();
      if (this._reported !== next.execution_id) {
        this._reported = next.execution_id;
        this._finished.emit(next);
      }
    }
    this.emit();
  }

  private _execution: JobExecution;
  private _error: MlopsApiError | null = null;
  private _stopping = false;
  private _reported: string | null = null;
  private _finished = new Signal<this, JobExecution>(this);
}
