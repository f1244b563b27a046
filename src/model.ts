import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { MlopsClient } from './api/client';
import { MlopsApiError, asApiError } from './api/request';
import type { ExperimentSummary, StatusResponse } from './api/types';
import { FRONTEND_VERSION, versionsMatch } from './version';

/** Options of what the experiments list shows, from the settings. */
export interface IExperimentsOptions {
  maxExperiments: number;
  includeDeleted: boolean;
}

/**
 * State of the MLOps panel: server status and experiments, refreshed on demand and by a
 * poll that stands by while the page is hidden. Views render from it and listen to
 * `changed`; it knows nothing of React.
 */
export class MlopsModel implements IDisposable {
  constructor(readonly client: MlopsClient = new MlopsClient()) {
    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: 30 * 1000, backoff: false },
      name: 'jupyter-mlops:refresh',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): StatusResponse | null {
    return this._status;
  }

  get statusError(): MlopsApiError | null {
    return this._statusError;
  }

  get experiments(): ExperimentSummary[] {
    return this._experiments;
  }

  get experimentsError(): MlopsApiError | null {
    return this._experimentsError;
  }

  get loading(): boolean {
    return this._pending > 0;
  }

  get search(): string {
    return this._search;
  }

  /** Whether the server extension runs another version than this frontend. */
  get versionMismatch(): boolean {
    return (
      this._status !== null &&
      !versionsMatch(FRONTEND_VERSION, this._status.version)
    );
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Filter experiments by name (done by the server). */
  async setSearch(search: string): Promise<void> {
    this._search = search;
    this._changed.emit();
    await this.refreshExperiments();
  }

  async configure(
    options: IExperimentsOptions & { refreshInterval: number }
  ): Promise<void> {
    this._options = {
      maxExperiments: options.maxExperiments,
      includeDeleted: options.includeDeleted
    };
    if (options.refreshInterval > 0) {
      this._poll.frequency = {
        ...this._poll.frequency,
        interval: options.refreshInterval * 1000
      };
      if (this._started) {
        void this._poll.start();
      }
    } else {
      this._poll.frequency = { ...this._poll.frequency, interval: Poll.NEVER };
    }
    if (this._started) {
      await this.refreshExperiments();
    }
  }

  /** Load for the first time and start the poll. */
  async start(): Promise<void> {
    if (this._started) {
      return;
    }
    this._started = true;
    await this.refresh();
    if (this._poll.frequency.interval !== Poll.NEVER) {
      void this._poll.start();
    }
  }

  async refresh(): Promise<void> {
    await Promise.all([this.refreshStatus(), this.refreshExperiments()]);
  }

  async refreshStatus(): Promise<void> {
    await this._track(async () => {
      try {
        this._status = await this.client.status();
        this._statusError = null;
      } catch (error) {
        this._statusError = asApiError(error);
      }
    });
  }

  async refreshExperiments(): Promise<void> {
    const ticket = ++this._experimentsTicket;
    await this._track(async () => {
      try {
        const answer = await this.client.experiments({
          search: this._search || undefined,
          max_results: this._options.maxExperiments,
          include_deleted: this._options.includeDeleted || undefined
        });
        if (ticket === this._experimentsTicket) {
          this._experiments = answer.experiments;
          this._experimentsError = null;
        }
      } catch (error) {
        if (ticket === this._experimentsTicket) {
          this._experimentsError = asApiError(error);
        }
      }
    });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _track(work: () => Promise<void>): Promise<void> {
    this._pending++;
    this._changed.emit();
    try {
      await work();
    } finally {
      this._pending--;
      if (!this._isDisposed) {
        this._changed.emit();
      }
    }
  }

  private _changed = new Signal<this, void>(this);
  private _status: StatusResponse | null = null;
  private _statusError: MlopsApiError | null = null;
  private _experiments: ExperimentSummary[] = [];
  private _experimentsError: MlopsApiError | null = null;
  private _experimentsTicket = 0;
  private _pending = 0;
  private _search = '';
  private _options: IExperimentsOptions = {
    maxExperiments: 100,
    includeDeleted: false
  };
  private _poll: Poll;
  private _started = false;
  private _isDisposed = false;
}
