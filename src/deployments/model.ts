import { Poll } from '@lumino/polling';

import {
  DeploymentsClient,
  IDeployment,
  IDeploymentRun,
  IEngineError
} from '../api/deployments';
import { MlopsApiError, asApiError } from '../api/request';
import { PollingModel } from '../polling';

/** How often the list is asked for while one of its runs is queued or running (ms). */
export const ACTIVE_INTERVAL = 5000;

/** Whether a run may still change. */
export function isActive(run: IDeploymentRun): boolean {
  return run.state === 'queued' || run.state === 'running';
}

/** What changes when a deployment's runs change: its latest runs' ids and states. */
function runsSignature(deployment: IDeployment | undefined): string {
  return JSON.stringify(
    (deployment?.latest_runs ?? []).map(run => [run.run_id, run.state])
  );
}

/**
 * The deployments and their runs on their engines. One `GET deployments` per refresh
 * answers every deployment with its latest runs (one request to each engine, not one per
 * deployment). The deployment that is open shows all its runs: they are asked for when
 * it is opened, after an action on it, and when the list shows its latest runs changed,
 * never on every tick.
 */
export class DeploymentsModel extends PollingModel {
  constructor(
    readonly client: DeploymentsClient,
    interval = 30 * 1000
  ) {
    super({ name: 'jupyter-mlops:deployments', interval });
    this._interval = interval;
  }

  get deployments(): IDeployment[] {
    return this._deployments;
  }

  /** Engines that could not be asked (unreachable, wrong credentials), each once. */
  get engineErrors(): IEngineError[] {
    return this._engineErrors;
  }

  get error(): MlopsApiError | null {
    return this._error;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  /** The deployment whose runs are shown, or null. */
  get selected(): string | null {
    return this._selected;
  }

  /** All runs of the selected deployment, newest first (null until loaded). */
  get runs(): IDeploymentRun[] | null {
    return this._runs;
  }

  get runsError(): MlopsApiError | null {
    return this._runsError;
  }

  /** Why the last action (pause, resume, cancel) failed, until the next one. */
  get actionError(): MlopsApiError | null {
    return this._actionError;
  }

  /** The action under way, e.g. `pause:daily-train`, or null. */
  get busy(): string | null {
    return this._busy;
  }

  /** The refresh interval in seconds (0: only on demand and while a run is active). */
  configure(refreshInterval: number): void {
    this._interval = refreshInterval > 0 ? refreshInterval * 1000 : Poll.NEVER;
    this._schedule();
  }

  start(): void {
    this.startPolling();
  }

  stop(): void {
    this.stopPolling();
  }

  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    try {
      const answer = await this.client.list();
      if (ticket !== this._ticket) {
        return;
      }
      const before = this._selected
        ? runsSignature(this._find(this._selected))
        : '';
      this._deployments = answer.deployments;
      this._engineErrors = answer.engine_errors ?? [];
      this._error = null;
      this._loaded = true;
      if (
        this._selected &&
        runsSignature(this._find(this._selected)) !== before
      ) {
        void this.loadRuns();
      }
    } catch (error) {
      if (ticket === this._ticket) {
        this._error = asApiError(error);
      }
    } finally {
      this._schedule();
      this.emit();
    }
  }

  /** Show one deployment's runs (null: none). */
  async select(name: string | null): Promise<void> {
    if (name === this._selected) {
      return;
    }
    this._selected = name;
    this._runs = null;
    this._runsError = null;
    this.emit();
    if (name) {
      await this.loadRuns();
    }
  }

  /** Ask for the selected deployment's runs again. */
  async loadRuns(): Promise<void> {
    const name = this._selected;
    if (!name) {
      return;
    }
    try {
      const answer = await this.client.runs(name);
      if (name === this._selected) {
        this._runs = answer.runs;
        this._runsError = null;
      }
    } catch (error) {
      if (name === this._selected) {
        this._runsError = asApiError(error);
      }
    } finally {
      this.emit();
    }
  }

  pause(name: string): Promise<void> {
    return this._act(`pause:${name}`, () => this.client.pause(name));
  }

  resume(name: string): Promise<void> {
    return this._act(`resume:${name}`, () => this.client.resume(name));
  }

  cancel(name: string, runId: string): Promise<void> {
    return this._act(`cancel:${name}:${runId}`, () =>
      this.client.cancel(name, runId)
    );
  }

  /**
   * Run now with these parameters. It rejects with the server's error (a 400 names each
   * bad value in `fields`, for the form to show beside its field).
   */
  async trigger(
    name: string,
    parameters: Record<string, unknown>
  ): Promise<IDeploymentRun> {
    const run = await this.client.trigger(name, parameters);
    await this.refresh();
    if (name === this._selected) {
      await this.loadRuns();
    }
    return run;
  }

  dismissActionError(): void {
    this._actionError = null;
    this.emit();
  }

  protected async look(): Promise<void> {
    await this.refresh();
    if (this._error) {
      throw this._error;
    }
  }

  private async _act(key: string, action: () => Promise<unknown>) {
    this._busy = key;
    this._actionError = null;
    this.emit();
    try {
      await action();
    } catch (error) {
      this._actionError = asApiError(error);
    } finally {
      this._busy = null;
    }
    await this.refresh();
    await this.loadRuns();
  }

  private _find(name: string): IDeployment | undefined {
    return this._deployments.find(d => d.name === name);
  }

  /** Poll faster while a run is queued or running. */
  private _schedule(): void {
    const active = this._deployments.some(d =>
      (d.latest_runs ?? []).some(isActive)
    );
    this.setPollInterval(
      active ? Math.min(ACTIVE_INTERVAL, this._interval) : this._interval
    );
  }

  private _deployments: IDeployment[] = [];
  private _engineErrors: IEngineError[] = [];
  private _error: MlopsApiError | null = null;
  private _loaded = false;
  private _selected: string | null = null;
  private _runs: IDeploymentRun[] | null = null;
  private _runsError: MlopsApiError | null = null;
  private _actionError: MlopsApiError | null = null;
  private _busy: string | null = null;
  private _ticket = 0;
  private _interval: number;
}
