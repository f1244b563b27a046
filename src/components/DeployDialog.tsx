import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { DeploymentsClient } from '../api/deployments';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobInfo, TaskRecord } from '../api/types';
import { IDeployTaskApi, deploy, deployOptions } from '../deployments/deploy';
import { FormDialog } from '../export/dialog';
import { ErrorCard } from './ErrorCard';

interface IDeployFormProps {
  client: DeploymentsClient;
  tasks: IDeployTaskApi;
  job: JobInfo;
  trans: TranslationBundle;
  /** The deployment exists: show it. */
  onDeployed: () => void;
  /** Milliseconds between two looks at the task (tests). */
  interval?: number;
}

const FIELDS = ['schedule', 'retries', 'timeout', 'notify_from_env'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Deploy an exported job onto Airflow: schedule, paused, retries, timeout, where the
 * notification URL comes from; the server checks them (each refusal beside its field),
 * then the deployment is a task followed to its end.
 */
export function DeployForm(props: IDeployFormProps): JSX.Element {
  const { client, tasks, job, trans } = props;
  const [values, setValues] = React.useState({
    schedule: '',
    retries: '',
    timeout: '',
    notifyFromEnv: ''
  });
  const [paused, setPaused] = React.useState(true);
  const [task, setTask] = React.useState<TaskRecord | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [done, setDone] = React.useState(false);
  const problems: Partial<Record<Field, string>> = {};
  for (const { field, message } of failure?.fields ?? []) {
    const name = field.replace(/^options\./, '') as Field;
    if (FIELDS.includes(name)) {
      problems[name] = message;
    }
  }
  const submit = async () => {
    setBusy(true);
    setFailure(null);
    setDone(false);
    try {
      await deploy(
        client,
        tasks,
        {
          job: job.path,
          engine: 'airflow',
          paused,
          options: deployOptions(values)
        },
        setTask,
        props.interval
      );
      setDone(true);
      props.onDeployed();
    } catch (reason) {
      setFailure(asApiError(reason));
    } finally {
      setBusy(false);
    }
  };
  const input = (
    field: Field,
    key: keyof typeof values,
    label: string,
    placeholder: string,
    type = 'text'
  ) => (
    <div className="jp-mlops-deploy-field">
      <label htmlFor={`jp-mlops-deploy-${field}`}>{label}</label>
      <input
        id={`jp-mlops-deploy-${field}`}
        className="jp-mod-styled"
        type={type}
        value={values[key]}
        placeholder={placeholder}
        aria-invalid={problems[field] ? true : undefined}
        aria-describedby={
          problems[field] ? `jp-mlops-deploy-${field}-error` : undefined
        }
        onChange={event => setValues({ ...values, [key]: event.target.value })}
      />
      {problems[field] && (
        <div
          id={`jp-mlops-deploy-${field}-error`}
          className="jp-mlops-deploy-fieldError"
        >
          {problems[field]}
        </div>
      )}
    </div>
  );
  const others = failure
    ? failure.fields.filter(
        f => !FIELDS.includes(f.field.replace(/^options\./, '') as Field)
      )
    : [];
  return (
    <form
      className="jp-mlops-deploy-form"
      aria-label={trans.__('Deploy %1', job.name)}
      onSubmit={event => {
        event.preventDefault();
        void submit();
      }}
    >
      <div className="jp-mlops-deploy-field">
        <label htmlFor="jp-mlops-deploy-engine">{trans.__('Engine')}</label>
        <select id="jp-mlops-deploy-engine" className="jp-mod-styled" disabled>
          <option value="airflow">Airflow</option>
        </select>
      </div>
      {input(
        'schedule',
        'schedule',
        trans.__('Schedule'),
        trans.__('@daily, a cron line, or empty: only when triggered')
      )}
      <label className="jp-mlops-export-check">
        <input
          type="checkbox"
          checked={paused}
          onChange={event => setPaused(event.target.checked)}
        />
        {trans.__('Paused (no scheduled run until resumed)')}
      </label>
      {input('retries', 'retries', trans.__('Retries'), '0', 'number')}
      {input('timeout', 'timeout', trans.__('Timeout of a run'), '2h')}
      {input(
        'notify_from_env',
        'notifyFromEnv',
        trans.__('Notify: variable holding the Apprise URL'),
        'JOB_ALERTS_URL'
      )}
      <Button type="submit" className="jp-mlops-export-primary" disabled={busy}>
        {busy ? trans.__('Deploying…') : trans.__('Deploy')}
      </Button>
      {task && busy && (
        <div className="jp-mlops-Muted" role="status">
          {task.phase || trans.__('deploying')}
        </div>
      )}
      {done && (
        <div className="jp-mlops-monitoring-ok" role="status">
          {trans.__('Deployed.')}
        </div>
      )}
      {failure && (Object.keys(problems).length === 0 || others.length > 0) && (
        <ErrorCard error={failure} trans={trans} />
      )}
    </form>
  );
}

/** "Deploy…" on an exported job: the form in a dialog. */
export async function showDeployDialog(
  options: Omit<IDeployFormProps, 'onDeployed'> & { onDeployed: () => void }
): Promise<void> {
  const { trans } = options;
  const body = ReactWidget.create(<DeployForm {...options} />);
  body.addClass('jp-mlops-export-body');
  const dialog = new FormDialog({
    title: trans.__('Deploy %1', options.job.name),
    body,
    buttons: [Dialog.cancelButton({ label: trans.__('Close') })],
    hasClose: true
  });
  dialog.addClass('jp-mlops-export-dialog');
  await dialog.launch();
}
