/**
 * The model registry's routes (`models`, versions, the gate, aliases, cards): typed calls,
 * the shapes from the generated `schema.d.ts`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  API_PREFIX,
  MlopsApiError,
  errorFromResponse,
  queryString,
  requestAPI
} from './request';
import type { components } from './schema';

type Schemas = components['schemas'];

export type ModelSummary = Schemas['ModelSummary'];
export type ModelsResponse = Schemas['ModelsResponse'];
export type ModelDetail = Schemas['ModelDetail'];
export type VersionSummary = Schemas['VersionSummary'];
export type VersionDetail = Schemas['VersionDetail'];
export type GateResult = Schemas['GateResult'];
export type GateCondition = Schemas['GateCondition'];
export type AliasChange = Schemas['AliasChange'];

const part = (text: string) => encodeURIComponent(text);

export class ModelsClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  list(): Promise<ModelsResponse> {
    return requestAPI<ModelsResponse>('models', {}, this.serverSettings);
  }

  show(name: string): Promise<ModelDetail> {
    return requestAPI<ModelDetail>(
      `models/${part(name)}`,
      {},
      this.serverSettings
    );
  }

  version(name: string, version: string): Promise<VersionDetail> {
    return requestAPI<VersionDetail>(
      `models/${part(name)}/versions/${part(version)}`,
      {},
      this.serverSettings
    );
  }

  /** The gate's conditions for `version` as `alias` (changes nothing). */
  gate(name: string, version: string, alias: string): Promise<GateResult> {
    return requestAPI<GateResult>(
      `models/${part(name)}/versions/${part(version)}/gate`,
      { method: 'POST', body: JSON.stringify({ alias }) },
      this.serverSettings
    );
  }

  promote(
    name: string,
    alias: string,
    body: { version: string; reason?: string; force?: boolean }
  ): Promise<AliasChange> {
    return requestAPI<AliasChange>(
      `models/${part(name)}/aliases/${part(alias)}`,
      { method: 'POST', body: JSON.stringify(body) },
      this.serverSettings
    );
  }

  demote(name: string, alias: string, reason = ''): Promise<AliasChange> {
    return requestAPI<AliasChange>(
      `models/${part(name)}/aliases/${part(alias)}${queryString({ reason: reason || undefined })}`,
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /** The version's model card (Markdown with YAML metadata); the server logs it too. */
  async card(name: string, version: string): Promise<string> {
    const url = URLExt.join(
      this.serverSettings.baseUrl,
      API_PREFIX,
      `models/${part(name)}/versions/${part(version)}/card`
    );
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        {},
        this.serverSettings
      );
    } catch (error) {
      throw new MlopsApiError(
        `Cannot reach the Jupyter server: ${(error as Error).message}`,
        0,
        'network_error'
      );
    }
    const text = await response.text();
    if (!response.ok) {
      throw errorFromResponse(response.status, text);
    }
    return text;
  }
}
