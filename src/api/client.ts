import { ServerConnection } from '@jupyterlab/services';

import { queryString, requestAPI } from './request';
import type {
  ExperimentsResponse,
  IExperimentsQuery,
  StatusResponse
} from './types';

/** Typed calls to the jupyter-mlops REST API. */
export class MlopsClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  status(): Promise<StatusResponse> {
    return requestAPI<StatusResponse>('status', {}, this.serverSettings);
  }

  experiments(query: IExperimentsQuery = {}): Promise<ExperimentsResponse> {
    return requestAPI<ExperimentsResponse>(
      `experiments${queryString({ ...query })}`,
      {},
      this.serverSettings
    );
  }
}
