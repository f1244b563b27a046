import { Poll } from '@lumino/polling';

import { MlopsClient } from './api/client';
import { MlopsApiError, asApiError } from './api/request';
import type { ExperimentSummary, StatusResponse } from './api/types';
import { PollingModel } from './polling';
import { FRONTEND_VERSION, versionsMatch } from './version';

/** Options of what the experiments list shows, from the settings. */
export interface IExperimentsOptions {
  maxExperiments: number;
  includeDeleted: boolean;
}

/**
 * State of the MLOps panel: server status and experiments, refreshed on demand and by a
 * poll (every `refreshInterval` seconds of the settings, see {@link PollingModel}).
 */
export class MlopsModel extends PollingModel {
  constructor(readonly client: MlopsClient = new MlopsClient()) {
    super({ name: 'jupyter-mlops:refresh', interval: 30 * 1000 });
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

  /** Filter experiments by name (done by the server). */
  async setSearch(search: string): Promise<void> {
    this._search = search;
    this.emit();
    await this.refreshExperiments();
  }

  async configure(
    options: IExperimentsOptions & { refreshInterval: number }
  ): Promise<void> {
    this._options = {
      maxExperiments: options.maxExperiments,
      includeDeleted: options.includeDeleted
    };
    this.setPollInterval(
      options.refreshInterval > 0 ? options.refreshInterval * 1000 : Poll.NEVER
    );
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
    // Just loaded: the poll's first look is one interval away.
    this.startPolling(false);
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

  /** The poll's look: both sections; a failure of either makes the poll back off. */
  protected async look(): Promise<void> {
    await this.refresh();
    const failure = this._statusError ?? this._experimentsError;
    if (failure) {
      throw failure;
    }
  }

  private async _track(work: () => Promise<void>): Promise<void> {
    this._pending++;
    this.emit();
    try {
      await work();
    } finally {
      this._pending--;
      this.emit();
    }
  }

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
  private _started = false;
}
