/**
 * What the export form holds, how it becomes an `ExportRequest`, and which server error
 * belongs to which field.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import type { Deployment, ExportRequest } from '../api/types';
import { deriveJobName, jobNameProblem } from './names';

/** The export targets the server ships (`jupyter_mlops.export.targets.known_targets()`). */
export const EXPORT_TARGETS = [
  'docker',
  'kubernetes',
  'argo',
  'kfp',
  'airflow',
  'dvc'
] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/** Targets that run the job on an orchestrator, and so use the deployment options. */
export const ORCHESTRATORS: readonly ExportTarget[] = [
  'kubernetes',
  'argo',
  'kfp',
  'airflow'
];

/** The deployment options, by their name in the API. */
export const DEPLOYMENT_FIELDS = [
  'image',
  'schedule',
  'cpu',
  'memory',
  'gpu',
  'secrets',
  'env_from_secrets',
  'output',
  'namespace',
  'service_account'
] as const;
export type DeploymentField = (typeof DEPLOYMENT_FIELDS)[number];

/** The export form's fields, as typed. */
export interface IExportValues {
  name: string;
  targets: ExportTarget[];
  deployment: Record<DeploymentField, string>;
}

/** Keys of field errors: the job name, the targets, or a deployment option. */
export type ExportField = 'name' | 'targets' | DeploymentField;

/** What the form starts with for a notebook: its derived name and the docker target. */
export function initialExportValues(notebookPath: string): IExportValues {
  const deployment = {} as Record<DeploymentField, string>;
  for (const field of DEPLOYMENT_FIELDS) {
    deployment[field] = '';
  }
  return {
    name: deriveJobName(notebookPath),
    targets: ['docker'],
    deployment
  };
}

export function usesOrchestrator(targets: readonly string[]): boolean {
  return targets.some(t => (ORCHESTRATORS as readonly string[]).includes(t));
}

/** Secret names typed as a list: separated by commas, spaces or new lines. */
export function nameList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map(s => s.trim())
    .filter(Boolean);
}

/** The request the form asks for; the deployment options only with an orchestrator. */
export function exportRequest(
  notebook: string,
  values: IExportValues
): ExportRequest {
  const request: ExportRequest = {
    notebook,
    name: values.name.trim(),
    targets: [...values.targets]
  };
  if (usesOrchestrator(values.targets)) {
    const text = (field: DeploymentField) =>
      values.deployment[field].trim() || null;
    const deployment: Deployment = {};
    for (const field of [
      'image',
      'schedule',
      'cpu',
      'memory',
      'output',
      'namespace',
      'service_account'
    ] as const) {
      const value = text(field);
      if (value !== null) {
        deployment[field] = value;
      }
    }
    const gpu = text('gpu');
    if (gpu !== null) {
      deployment.gpu = Number(gpu);
    }
    const secrets = nameList(values.deployment.secrets);
    if (secrets.length) {
      deployment.secrets = secrets;
    }
    const envFrom = nameList(values.deployment.env_from_secrets);
    if (envFrom.length) {
      deployment.env_from_secrets = envFrom;
    }
    request.deployment = deployment;
  }
  return request;
}

/** Mistakes seen before asking the server (which checks everything again). */
export function exportProblems(
  values: IExportValues,
  trans: TranslationBundle
): Partial<Record<ExportField, string>> {
  const problems: Partial<Record<ExportField, string>> = {};
  const name = jobNameProblem(values.name.trim(), trans);
  if (name) {
    problems.name = name;
  }
  if (values.targets.length === 0) {
    problems.targets = trans.__('Choose at least one target.');
  }
  const gpu = values.deployment.gpu.trim();
  if (usesOrchestrator(values.targets) && gpu && !/^\d{1,2}$/.test(gpu)) {
    problems.gpu = trans.__('A whole number of GPUs (0 to 64).');
  }
  return problems;
}

/**
 * The fields a server refusal names. A body the server could not accept says
 * "Field 'deployment.schedule': Value error, ..." once per field; a job name it refuses
 * says "invalid job name ...".
 */
export function exportFieldErrors(
  message: string
): Partial<Record<ExportField, string>> {
  const errors: Partial<Record<ExportField, string>> = {};
  const pattern = /Field '([^']+)':\s*(.*?)(?=\s*Field '|$)/gs;
  for (const match of message.matchAll(pattern)) {
    const [head, second] = match[1].split('.');
    const field = (head === 'deployment' ? second : head) as ExportField;
    if (
      (DEPLOYMENT_FIELDS as readonly string[]).includes(field) ||
      field === 'name' ||
      field === 'targets'
    ) {
      errors[field] = match[2].replace(/^Value error, /, '').trim();
    }
  }
  if (/^invalid job name/.test(message)) {
    errors.name = message;
  }
  return errors;
}
