/**
 * What the export form holds, how it becomes an `ExportRequest`, and which server error
 * belongs to which field.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import type {
  Deployment,
  ExportRequest,
  ExportTargetInfo,
  FieldError,
  JobWarning
} from '../api/types';
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
  'service_account',
  'retries',
  'retry_delay',
  'retry_backoff',
  'timeout',
  'notify_from_env',
  'notify_secret',
  'notify_on'
] as const;
export type DeploymentField = (typeof DEPLOYMENT_FIELDS)[number];

/** The export form's fields, as typed. */
export interface IExportValues {
  name: string;
  /** Names of the chosen targets, in the order the server lists them. */
  targets: string[];
  deployment: Record<DeploymentField, string>;
}

/**
 * Keys of field errors: the notebook (and its parameters cell), the job name, the
 * targets, or a deployment option.
 */
export type ExportField = 'notebook' | 'name' | 'targets' | DeploymentField;

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

/** The reliability options (retries, timeout, notifications), shown in their own group. */
export const RELIABILITY_FIELDS: readonly DeploymentField[] = [
  'retries',
  'retry_delay',
  'retry_backoff',
  'timeout',
  'notify_from_env',
  'notify_secret',
  'notify_on'
];

/** When a job notifies (`notify_on`): the API's values. */
export const NOTIFY_ON = ['failure', 'always'] as const;

/** A duration as the server reads one: 90s, 30m, 2h, 1h30m, 1d (or seconds). */
const DURATION = /^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$|^\d+$/;

/** Whether a text is a duration the server takes (its bounds checked there). */
export function isDuration(text: string): boolean {
  const value = text.trim().toLowerCase();
  return value !== '' && DURATION.test(value);
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
      'service_account',
      'retry_delay',
      'timeout',
      'notify_from_env',
      'notify_secret'
    ] as const) {
      const value = text(field);
      if (value !== null) {
        deployment[field] = value;
      }
    }
    // Numbers the server checks (a text it cannot read as one is sent as it is, and
    // refused with one line naming the option).
    for (const field of ['retries', 'retry_backoff'] as const) {
      const value = text(field);
      if (value !== null) {
        const number = Number(value);
        (deployment as Record<string, unknown>)[field] = Number.isFinite(number)
          ? number
          : value;
      }
    }
    // 'failure' is the server's default: only 'always' is said.
    if (text('notify_on') === 'always') {
      deployment.notify_on = 'always';
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
  if (!usesOrchestrator(values.targets, available)) {
    return problems;
  }
  const retries = values.deployment.retries.trim();
  if (retries && !(/^\d{1,3}$/.test(retries) && Number(retries) <= 100)) {
    problems.retries = trans.__('A whole number of retries (0 to 100).');
  }
  for (const field of ['retry_delay', 'timeout'] as const) {
    const value = values.deployment[field].trim();
    if (value && !isDuration(value)) {
      problems[field] = trans.__('A duration such as 90s, 30m, 2h or 1h30m.');
    }
  }
  const backoff = values.deployment.retry_backoff.trim();
  if (backoff) {
    const factor = Number(backoff);
    if (!Number.isFinite(factor) || factor < 1 || factor > 10) {
      problems.retry_backoff = trans.__(
        'A factor from 1 (a constant wait) to 10.'
      );
    } else if (!values.deployment.retry_delay.trim()) {
      problems.retry_backoff = trans.__(
        'Give the first wait in "Retry delay" too.'
      );
    }
  }
  const variable = values.deployment.notify_from_env.trim();
  if (variable && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
    problems.notify_from_env = variable.includes('://')
      ? trans.__(
          'The name of an environment variable holding the URL, never the URL itself.'
        )
      : trans.__(
          'An environment variable name: letters, digits and _, not starting with a digit.'
        );
  }
  if (values.deployment.notify_secret.includes('://')) {
    problems.notify_secret = trans.__(
      'The name of a Secret holding the URL (key "url"), never the URL itself.'
    );
  }
  return problems;
}

/** Each field's problems: the form's fields, and those the form does not show. */
export interface IFieldProblems {
  /** Beside their fields: one text per field (several problems joined). */
  fields: Partial<Record<ExportField, string>>;
  /** Problems of request fields the form has no input for (out, include...). */
  other: FieldError[];
}

/**
 * The form field a request field belongs to: `deployment.schedule` is the schedule,
 * `targets.1` the targets, `notebook` the notebook (and its parameters cell).
 */
export function formField(field: string): ExportField | null {
  const [head, second] = field.split('.');
  if (head === 'deployment') {
    return (DEPLOYMENT_FIELDS as readonly string[]).includes(second)
      ? (second as DeploymentField)
      : null;
  }
  if (head === 'name' || head === 'notebook' || head === 'targets') {
    return head;
  }
  return null;
}

/** The server's problems (`{field, message}`) by form field. */
export function fieldProblems(problems: readonly FieldError[]): IFieldProblems {
  const fields: Partial<Record<ExportField, string>> = {};
  const other: FieldError[] = [];
  for (const problem of problems) {
    const field = formField(problem.field);
    if (field === null) {
      other.push(problem);
    } else {
      fields[field] = fields[field]
        ? `${fields[field]} ${problem.message}`
        : problem.message;
    }
  }
  return { fields, other };
}

/**
 * Whether trying the same request again may succeed: the server or the network was
 * unavailable, or the disk full. A refusal of the request itself (4xx) or a bug (500)
 * comes back the same, so the error card offers no Retry for it.
 */
export function retryable(error: { status: number; code: string }): boolean {
  return (
    error.code === 'network_error' ||
    [502, 503, 504, 507].includes(error.status)
  );
}

/** The form's values as the state database keeps them (per notebook). */
export function storedValues(values: IExportValues): {
  name: string;
  targets: string[];
  deployment: Record<string, string>;
} {
  return {
    name: values.name,
    targets: [...values.targets],
    deployment: { ...values.deployment }
  };
}

/**
 * The values kept for a notebook, over its initial ones; anything malformed (an older
 * shape, a hand-edited workspace) is left at its initial value.
 */
export function restoredValues(
  notebook: string,
  saved: unknown
): IExportValues {
  const values = initialExportValues(notebook);
  if (typeof saved !== 'object' || saved === null) {
    return values;
  }
  const data = saved as Record<string, unknown>;
  if (typeof data.name === 'string') {
    values.name = data.name;
  }
  if (
    Array.isArray(data.targets) &&
    data.targets.every(t => typeof t === 'string')
  ) {
    values.targets = [...(data.targets as string[])];
  }
  const deployment = data.deployment;
  if (typeof deployment === 'object' && deployment !== null) {
    for (const field of DEPLOYMENT_FIELDS) {
      const value = (deployment as Record<string, unknown>)[field];
      if (typeof value === 'string') {
        values.deployment[field] = value;
      }
    }
  }
  return values;
}

/**
 * An export warning in the dialog's words: a warning with a code is said in terms of the
 * dialog's fields (the server's text names the CLI's options); others as the server says.
 */
export function warningText(
  warning: JobWarning,
  trans: TranslationBundle
): string {
  const values = warning.values ?? {};
  switch (warning.code) {
    case 'image_guessed':
      return trans.__(
        'No image chosen and none built yet: the manifests run "%1". Build the image (Build tab) or choose an image in the Orchestrator options, then export again.',
        values.image ?? ''
      );
    case 'docker_dag_env_from_secrets':
      return trans.__(
        'The Docker DAG cannot pass "Environment from secrets" (%1): Docker has no Secrets. The Kubernetes DAG does; or use "Secrets", mounted as files.',
        values.names ?? ''
      );
    case 'output_in_container':
      return trans.__(
        'Output "%1" is a path inside the container: mount a volume there in the %2 manifest, or the output notebooks are lost with the pod.',
        values.output ?? '',
        values.engine ?? ''
      );
    case 'output_overwritten':
      return trans.__(
        'Output "%1" names one notebook: every scheduled run overwrites it. Give a folder or a URL prefix in Output to keep one per run.',
        values.output ?? ''
      );
    case 'retry_delay_ignored':
      return trans.__(
        'Retry delay: %1 waits between retries itself (10 s, doubling, at most 6 min); the delay is not used there.',
        values.engine ?? ''
      );
    case 'kfp_output_path':
      return trans.__(
        'Output "%1": Kubeflow Pipelines keeps the output notebook as an artifact under its pipeline root. Give a URL (s3://, gs://, minio://) in Output to choose that root.',
        values.output ?? ''
      );
    case 'kfp_output_notebook':
      return trans.__(
        'Output "%1": Kubeflow Pipelines names each run\'s artifacts itself; they go under %2.',
        values.output ?? '',
        values.root ?? ''
      );
    default:
      return warning.message;
  }
}

/** A job's warnings in the dialog's words (a job listed by an older server: its texts). */
export function jobWarnings(
  job: { warnings: string[]; warning_details?: JobWarning[] },
  trans: TranslationBundle
): string[] {
  const details = job.warning_details ?? [];
  if (details.length !== job.warnings.length) {
    return job.warnings;
  }
  return details.map(warning => warningText(warning, trans));
}
