import {
  DataClient,
  type DataHistory,
  type DataPaths,
  type DataTask
} from '../api/data';
import { MlopsApiError, asApiError } from '../api/request';
import { PollingModel } from '../polling';

/**
 * Asks the person whether to go on (the restore would lose local changes); the message
 * is the server's, naming the files.
 */
export type Confirm = (message: string) => Promise<boolean>;

/** Seconds between two looks at the tracked data while the Data section is visible. */
export const DATA_POLL_SECONDS = 10;

/**
 * The Data section's state: tracked paths, the history of the one opened, and the one
 * long operation (snapshot, restore, push, pull) running from the panel, with its
 * progress. While the section is visible ({@link setVisible}) it looks at the paths again
 * every {@link DATA_POLL_SECONDS} seconds (a cheap listing: the server hashes only small
 * changed data), so changes on disk show without Refresh.
 */
export class DataModel extends PollingModel {
  constructor(
    readonly client: DataClient,
    private readonly _confirm: Confirm,
    pollSeconds: number = DATA_POLL_SECONDS
  ) {
    super({
      name: 'jupyter-mlops:data',
      interval: pollSeconds * 1000,
      max: 120 * 1000
    });
  }

  get paths(): DataPaths | null {
    return this._paths;
  }

  get error(): MlopsApiError | null {
    return this._error;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** The path whose history is open, if any. */
  get selected(): string | null {
    return this._selected;
  }

  get history(): DataHistory | null {
    return this._history;
  }

  get historyError(): MlopsApiError | null {
    return this._historyError;
  }

  /** The operation running (or the last one), as the server reports it. */
  get task(): DataTask | null {
    return this._task;
  }

  /** Why the last operation failed (cancelled included), until the next one starts. */
  get taskError(): MlopsApiError | null {
    return this._taskError;
  }

  get busy(): boolean {
    return this._task !== null && this._task.state === 'running';
  }

  /** Whether the paths are followed (the Data section is visible). */
  get following(): boolean {
    return this.polling;
  }

  /**
   * The Data section was shown (look now, then every few seconds) or hidden (stop).
   */
  setVisible(visible: boolean): void {
    if (visible) {
      void this._resume();
      this.startPolling();
    } else {
      this.stopPolling();
    }
  }

  async refresh(): Promise<void> {
    this._loading = true;
    this.emit();
    try {
      this._paths = await this.client.paths();
      this._error = null;
    } catch (error) {
      this._error = asApiError(error);
    } finally {
      this._loading = false;
      this.emit();
    }
    if (this._selected !== null) {
      await this._loadHistory(this._selected);
    }
  }

  /** Open the history of a path (null: close it). */
  async select(path: string | null): Promise<void> {
    this._selected = path;
    this._history = null;
    this._historyError = null;
    this.emit();
    if (path !== null) {
      await this._loadHistory(path);
    }
  }

  snapshot(path: string, message?: string): Promise<DataTask | null> {
    return this._run(() =>
      this.client.snapshot({ paths: [path], message: message || null })
    );
  }

  /** Check out a version of a path, asking first if local changes would be lost. */
  restore(path: string, version: string): Promise<DataTask | null> {
    return this._run(force => this.client.restore({ path, version, force }));
  }

  /** Check out every version a run read, asking first if local changes would be lost. */
  restoreRun(runId: string): Promise<DataTask | null> {
    return this._run(force => this.client.restore({ run_id: runId, force }));
  }

  push(): Promise<DataTask | null> {
    return this._run(() => this.client.push({}));
  }

  pull(): Promise<DataTask | null> {
    return this._run(() => this.client.pull({}));
  }

  async cancel(): Promise<void> {
    if (this._task && this._task.state === 'running') {
      await this.client.cancel(this._task.task_id);
    }
  }

  /**
   * Once, when the section first shows: follow the operation still running on the server
   * (started before the page was reloaded, or from another page), as if started here.
   */
  private async _resume(): Promise<void> {
    if (this._resumed) {
      return;
    }
    this._resumed = true;
    let running: DataTask | undefined;
    try {
      running = (await this.client.tasks()).tasks.find(
        task => task.state === 'running'
      );
    } catch {
      return; // the listing shows its own errors; nothing to resume
    }
    if (!running || this.busy || this.isDisposed) {
      return;
    }
    this._task = running;
    this._taskError = null;
    this.emit();
    try {
      await this.client.waitForTask(running, current => {
        this._task = current;
        this.emit();
      });
      await this.refresh();
    } catch (error) {
      this._taskError = asApiError(error);
      this.emit();
    }
  }

  /**
   * Start an operation and follow it to the end. A 409 `local_changes` answer is put to
   * the person; the operation is started again with force only if they agree. Resolves
   * with the finished task, or null when it failed (see {@link taskError}) or the person
   * declined.
   */
  private async _run(
    start: (force: boolean) => Promise<DataTask>
  ): Promise<DataTask | null> {
    if (this.busy) {
      return null;
    }
    this._taskError = null;
    this.emit();
    try {
      let task: DataTask;
      try {
        task = await start(false);
      } catch (error) {
        const apiError = asApiError(error);
        if (apiError.code !== 'local_changes') {
          throw error;
        }
        if (!(await this._confirm(apiError.message))) {
          return null;
        }
        task = await start(true);
      }
      const done = await this.client.waitForTask(task, current => {
        this._task = current;
        this.emit();
      });
      await this.refresh();
      return done;
    } catch (error) {
      this._taskError = asApiError(error);
      this.emit();
      return null;
    }
  }

  /**
   * One look of the poll: the paths again, quietly (no "loading" state; a render only
   * when something changed), and the open history when the paths changed. Skipped while
   * an operation runs (it refreshes when done).
   */
  protected async look(): Promise<void> {
    if (this.isDisposed || this.busy || this._loading) {
      return;
    }
    let paths: DataPaths;
    try {
      paths = await this.client.paths();
    } catch (error) {
      this._error = asApiError(error);
      this.emit();
      throw error; // the poll backs off
    }
    const before = JSON.stringify(this._paths);
    if (JSON.stringify(paths) === before && this._error === null) {
      return; // nothing new: no render
    }
    this._paths = paths;
    this._error = null;
    this.emit();
    if (this._selected !== null && before !== 'null') {
      await this._loadHistory(this._selected);
    }
  }

  private async _loadHistory(path: string): Promise<void> {
    try {
      const history = await this.client.history(path);
      if (this._selected === path) {
        this._history = history;
        this._historyError = null;
      }
    } catch (error) {
      if (this._selected === path) {
        this._historyError = asApiError(error);
      }
    }
    this.emit();
  }

  private _paths: DataPaths | null = null;
  private _error: MlopsApiError | null = null;
  private _loading = false;
  private _resumed = false;
  private _selected: string | null = null;
  private _history: DataHistory | null = null;
  private _historyError: MlopsApiError | null = null;
  private _task: DataTask | null = null;
  private _taskError: MlopsApiError | null = null;
}
