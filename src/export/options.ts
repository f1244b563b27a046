/**
 * What the export form holds, how it becomes an `ExportRequest`, and which server error
 * belongs to which field.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import type { Deployment, ExportRequest, ExportTargetInfo } from '../api/types';
import { deriveJobName, jobNameProblem } from './names';

/**
 * The targets a new export starts with. Which targets exist, and which run on an
 * orchestrator, is the server's to say (`GET jobs/targets`): plugins add targets.
 */
export const DEFAULT_TARGETS: readonly string[] = ['docker'];

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
  /** Names of the chosen targets, in the order the server lists them. */
  targets: string[];
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
    targets: [...DEFAULT_TARGETS],
    deployment
  };
}

/** Whether a chosen target runs the job on an orchestrator, as the server says. */
export function usesOrchestrator(
  chosen: readonly string[],
  available: readonly ExportTargetInfo[]
): boolean {
  return available.some(t => t.orchestrator && chosen.includes(t.name));
}

/** The chosen targets that the server can use, in its order (broken plugins left out). */
export function usableTargets(
  chosen: readonly string[],
  available: readonly ExportTargetInfo[]
): string[] {
  return available
    .filter(t => !t.error && chosen.includes(t.name))
    .map(t => t.name);
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
  values: IExportValues,
  available: readonly ExportTargetInfo[]
): ExportRequest {
  const request: ExportRequest = {
    notebook,
    name: values.name.trim(),
    targets: [...values.targets]
  };
  if (usesOrchestrator(values.targets, available)) {
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
  available: readonly ExportTargetInfo[],
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
  if (
    usesOrchestrator(values.targets, available) &&
    gpu &&
    !/^\d{1,2}$/.test(gpu)
  ) {
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
