/**
 * The lineage route (`GET lineage`) and the audit trail's routes (`GET audit`,
 * `GET audit/verify`): typed calls, the shapes from the generated `schema.d.ts`.
 */
import { ServerConnection } from '@jupyterlab/services';

import { queryString, requestAPI } from './request';
import type { components } from './schema';

type Schemas = components['schemas'];

export type LineageGraph = Schemas['LineageGraph'];
export type LineageNode = Schemas['LineageNode'];
export type LineageEdge = Schemas['LineageEdge'];
export type LineageLink = Schemas['LineageLink'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditList = Schemas['AuditList'];
export type AuditVerification = Schemas['AuditVerification'];

/** The node a lineage graph is drawn around: one run, model version or output notebook. */
export type LineageRoot =
  { runId: string } | { model: string; version: string } | { output: string };

export interface IAuditQuery {
  /** Kinds, comma-separated ('export,build'). */
  kind?: string;
  /** A subject or a shell-style pattern ('churn/*'). */
  subject?: string;
  /** ISO 8601 times. */
  since?: string;
  until?: string;
  limit?: number;
  cursor?: number;
}

/** A short text naming a root, for a tab's title and a widget's id. */
export function rootKey(root: LineageRoot): string {
  if ('runId' in root) {
    return `run:${root.runId}`;
  }
  if ('model' in root) {
    return `model:${root.model}/${root.version}`;
  }
  return `output:${root.output}`;
}

export class LineageClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  lineage(root: LineageRoot): Promise<LineageGraph> {
    const query =
      'runId' in root
        ? { run: root.runId }
        : 'model' in root
          ? { model: root.model, version: root.version }
          : { output: root.output };
    return requestAPI<LineageGraph>(
      `lineage${queryString(query)}`,
      {},
      this.serverSettings
    );
  }

  audit(query: IAuditQuery = {}): Promise<AuditList> {
    return requestAPI<AuditList>(
      `audit${queryString({ ...query })}`,
      {},
      this.serverSettings
    );
  }

  verifyAudit(): Promise<AuditVerification> {
    return requestAPI<AuditVerification>(
      'audit/verify',
      {},
      this.serverSettings
    );
  }
}
