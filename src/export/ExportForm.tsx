import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsApiError } from '../api/request';
import type { ExportTargetInfo } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { JOB_NAME_MAX } from './names';
import { BusyLine } from './Progress';
import {
  DeploymentField,
  ExportField,
  IExportValues,
  NOTIFY_ON,
  usesOrchestrator
} from './options';

interface IExportFormProps {
  notebook: string;
  values: IExportValues;
  errors: Partial<Record<ExportField, string>>;
  disabled: boolean;
  /** The server's export targets; null while they load. */
  targets: readonly ExportTargetInfo[] | null;
  /** Why the targets could not be listed. */
  targetsError: MlopsApiError | null;
  onRetryTargets: () => void;
  trans: TranslationBundle;
  onChange: (values: IExportValues) => void;
  onSubmit: () => void;
  /** The form's id: its submit button lives outside it (`form` attribute). */
  id: string;
}

/** A label, an input and the line under it: a problem, or help. */
function Field(props: {
  id: string;
  /** The form field's name (`name`, `schedule`...). */
  field: string;
  label: string;
  help?: string;
  error?: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div
      className={`jp-mlops-export-field${props.error ? ' jp-mod-invalid' : ''}`}
      data-field={props.field}
    >
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {(props.error || props.help) && (
        <div
          id={`${props.id}-note`}
          className={
            props.error ? 'jp-mlops-export-fieldError' : 'jp-mlops-export-help'
          }
          role={props.error ? 'alert' : undefined}
        >
          {props.error ?? props.help}
        </div>
      )}
    </div>
  );
}

/** Job name, targets and, with an orchestrator target, how the job is deployed. */
export function ExportForm(props: IExportFormProps): JSX.Element {
  const { values, errors, disabled, trans } = props;
  const targets = props.targets ?? [];
  const prefix = React.useId();
  // The built-in targets' names and hints, translated; a plugin's target shows its name
  // and the description the server gives.
  const builtInLabels: Record<string, [string, string]> = {
    docker: [
      trans.__('Docker image'),
      trans.__('Dockerfile and pinned requirements; build and run it here')
    ],
    kubernetes: [
      trans.__('Kubernetes'),
      trans.__('a Job, or a CronJob with a schedule')
    ],
    argo: [
      trans.__('Argo Workflows'),
      trans.__('a Workflow, or a CronWorkflow')
    ],
    kfp: [
      trans.__('Kubeflow Pipelines'),
      trans.__('a compiled KFP v2 pipeline')
    ],
    airflow: [trans.__('Airflow'), trans.__('a DAG with typed Params')],
    dvc: [trans.__('DVC pipeline'), trans.__('a stage that `dvc repro` reruns')]
  };
  const options: [DeploymentField, string, string][] = [
    [
      'image',
      trans.__('Image'),
      trans.__('Default: the image built here, else NAME:latest')
    ],
    [
      'schedule',
      trans.__('Schedule'),
      trans.__('Cron expression (e.g. 0 3 * * *) or @daily; empty: run once')
    ],
    ['cpu', trans.__('CPU'), trans.__('e.g. 500m or 2')],
    ['memory', trans.__('Memory'), trans.__('e.g. 512Mi or 4Gi')],
    ['gpu', trans.__('GPUs'), trans.__('Number of NVIDIA GPUs')],
    [
      'secrets',
      trans.__('Secrets'),
      trans.__('Secret names, mounted under /etc/secrets/NAME (never values)')
    ],
    [
      'env_from_secrets',
      trans.__('Environment from secrets'),
      trans.__('Secret names whose keys become environment variables')
    ],
    [
      'output',
      trans.__('Output'),
      trans.__('Where output notebooks go: a path or s3://, gs://... URL')
    ],
    ['namespace', trans.__('Namespace'), trans.__('Kubernetes namespace')],
    [
      'service_account',
      trans.__('Service account'),
      trans.__('Kubernetes service account')
    ]
  ];
  const reliability: [DeploymentField, string, string][] = [
    [
      'retries',
      trans.__('Retries'),
      trans.__(
        'Retries of a failed run; not of wrong parameters or a failing notebook'
      )
    ],
    [
      'retry_delay',
      trans.__('Retry delay'),
      trans.__('Wait before the first retry, e.g. 1m')
    ],
    [
      'retry_backoff',
      trans.__('Retry back-off'),
      trans.__('Each further wait multiplied by this (default 2)')
    ],
    [
      'timeout',
      trans.__('Timeout'),
      trans.__('Stop a run that takes longer, e.g. 2h or 30m')
    ],
    [
      'notify_from_env',
      trans.__('Notify: URL from variable'),
      trans.__(
        'Name of the environment variable holding the Apprise URL (never the URL)'
      )
    ],
    [
      'notify_secret',
      trans.__('Notify: URL from secret'),
      trans.__('Name of a Secret whose key "url" holds the Apprise URL')
    ]
  ];
  const notifyLabels: Record<(typeof NOTIFY_ON)[number], string> = {
    failure: trans.__('When a run fails'),
    always: trans.__('After every run')
  };
  const textField = ([field, label, help]: [
    DeploymentField,
    string,
    string
  ]) => (
    <Field
      key={field}
      id={`${prefix}-${field}`}
      field={field}
      label={label}
      help={help}
      error={errors[field]}
    >
      <InputGroup
        id={`${prefix}-${field}`}
        name={field}
        type="text"
        spellCheck={false}
        inputMode={
          field === 'gpu' || field === 'retries' ? 'numeric' : undefined
        }
        className={errors[field] ? 'jp-mlops-export-invalid' : undefined}
        aria-invalid={!!errors[field]}
        aria-describedby={`${prefix}-${field}-note`}
        value={values.deployment[field]}
        onChange={event => setDeployment(field, event.target.value)}
      />
    </Field>
  );
  const setDeployment = (field: DeploymentField, text: string) =>
    props.onChange({
      ...values,
      deployment: { ...values.deployment, [field]: text }
    });
  const labelOf = (target: ExportTargetInfo): [string, string] =>
    target.error
      ? [target.name, target.error]
      : (builtInLabels[target.name] ?? [target.name, target.description]);
  const toggleTarget = (name: string, on: boolean) =>
    props.onChange({
      ...values,
      targets: targets
        .filter(t => (t.name === name ? on : values.targets.includes(t.name)))
        .map(t => t.name)
    });

  return (
    <form
      id={props.id}
      className="jp-mlops-export-form"
      noValidate
      onSubmit={event => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      <fieldset disabled={disabled}>
        <div
          className={`jp-mlops-export-notebook${errors.notebook ? ' jp-mod-invalid' : ''}`}
          data-field="notebook"
        >
          {trans.__('Notebook')} <code>{props.notebook}</code>
          {errors.notebook && (
            <div className="jp-mlops-export-fieldError" role="alert">
              {errors.notebook}
            </div>
          )}
        </div>
        <Field
          id={`${prefix}-name`}
          field="name"
          label={trans.__('Job name')}
          help={trans.__(
            'Lowercase letters, digits and "-", at most %1 characters; the folder is pipelines/NAME beside the notebook.',
            JOB_NAME_MAX
          )}
          error={errors.name}
        >
          <InputGroup
            id={`${prefix}-name`}
            name="name"
            type="text"
            autoFocus
            spellCheck={false}
            maxLength={JOB_NAME_MAX + 20}
            className={errors.name ? 'jp-mlops-export-invalid' : undefined}
            aria-invalid={!!errors.name}
            aria-describedby={`${prefix}-name-note`}
            value={values.name}
            onChange={event =>
              props.onChange({ ...values, name: event.target.value })
            }
          />
        </Field>
        <fieldset
          className="jp-mlops-export-group"
          data-field="targets"
          aria-busy={props.targets === null && !props.targetsError}
        >
          <legend>{trans.__('Targets')}</legend>
          {props.targetsError ? (
            <ErrorCard
              error={props.targetsError}
              trans={trans}
              onRetry={props.onRetryTargets}
            />
          ) : props.targets === null ? (
            <BusyLine label={trans.__('Loading the export targets')}>
              {trans.__('Loading the export targets…')}
            </BusyLine>
          ) : targets.length === 0 ? (
            <div className="jp-mlops-Muted">
              {trans.__('The server has no export target installed.')}
            </div>
          ) : (
            <div className="jp-mlops-export-targets">
              {targets.map(target => {
                const [label, hint] = labelOf(target);
                return (
                  <label
                    key={target.name}
                    className={`jp-mlops-export-target${target.error ? ' jp-mod-invalid' : ''}`}
                    title={hint}
                  >
                    <input
                      type="checkbox"
                      name="target"
                      value={target.name}
                      disabled={!!target.error}
                      checked={
                        !target.error && values.targets.includes(target.name)
                      }
                      onChange={event =>
                        toggleTarget(target.name, event.target.checked)
                      }
                    />
                    <span>{label}</span>
                    <span
                      className={
                        target.error
                          ? 'jp-mlops-export-fieldError'
                          : 'jp-mlops-export-help'
                      }
                    >
                      {target.error
                        ? trans.__('Unavailable: %1', target.error)
                        : hint}
                    </span>
                  </label>
                );
              })}
            </div>
          )}
          {errors.targets && (
            <div className="jp-mlops-export-fieldError" role="alert">
              {errors.targets}
            </div>
          )}
        </fieldset>
        {usesOrchestrator(values.targets, targets) && (
          <fieldset
            className="jp-mlops-export-group"
            data-testid="mlops-export-orchestrator"
          >
            <legend>{trans.__('Orchestrator options')}</legend>
            <div className="jp-mlops-export-grid">{options.map(textField)}</div>
          </fieldset>
        )}
        {usesOrchestrator(values.targets, targets) && (
          <fieldset
            className="jp-mlops-export-group"
            data-testid="mlops-export-reliability"
          >
            <legend>{trans.__('Retries, timeout and notifications')}</legend>
            <div className="jp-mlops-export-grid">
              {reliability.map(textField)}
              <Field
                id={`${prefix}-notify_on`}
                field="notify_on"
                label={trans.__('Notify')}
                help={trans.__(
                  'Sent by the job itself, through Apprise (Slack, Teams, e-mail, webhooks...)'
                )}
                error={errors.notify_on}
              >
                <HTMLSelect
                  id={`${prefix}-notify_on`}
                  name="notify_on"
                  aria-describedby={`${prefix}-notify_on-note`}
                  value={values.deployment.notify_on || 'failure'}
                  onChange={event =>
                    setDeployment(
                      'notify_on',
                      event.target.value === 'always' ? 'always' : ''
                    )
                  }
                  options={NOTIFY_ON.map(value => ({
                    value,
                    label: notifyLabels[value]
                  }))}
                />
              </Field>
            </div>
          </fieldset>
        )}
      </fieldset>
    </form>
  );
}
