import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  FormComponent,
  IFormComponentProps,
  notebookIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import type { ErrorSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import * as React from 'react';

import type {
  DeploymentsClient,
  IDeployment,
  IDeploymentRun
} from '../api/deployments';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobInfo } from '../api/types';
import { isActive, DeploymentsModel } from '../deployments/model';
import {
  FormData,
  checkValues,
  errorWords,
  runForm,
  runValues,
  serverErrors
} from '../export/runForm';
import { relativeTime } from '../format';
import { ActionLink } from './ActionLink';
import { ErrorCard } from './ErrorCard';
import { durationText } from './RunsView';
import { useRequest } from './useRequest';

export interface IDeploymentActions {
  openPath: (path: string) => void;
  openRun: (runId: string) => void;
  openMonitoring: (name: string) => void;
  /** The job folders (their parameter schemas, for Run now). */
  jobs: () => Promise<JobInfo[]>;
}

function stateText(run: IDeploymentRun, trans: TranslationBundle): string {
  switch (run.state) {
    case 'success':
      return trans.__('succeeded');
    case 'failed':
      return trans.__('failed');
    case 'running':
      return trans.__('running');
    case 'queued':
      return trans.__('queued');
    default:
      return trans.__('unknown');
  }
}

function when(iso: string | null | undefined): number | null {
  return iso ? Date.parse(iso) : null;
}

/** The latest runs as small squares, oldest to newest, coloured by state. */
export function StatusStrip(props: {
  runs: IDeploymentRun[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const runs = [...props.runs].reverse();
  return (
    <span
      className="jp-mlops-deploy-strip"
      role="img"
      aria-label={trans.__(
        'Latest runs: %1',
        runs.map(run => stateText(run, trans)).join(', ') || trans.__('none')
      )}
    >
      {runs.map(run => (
        <span
          key={run.run_id}
          className={`jp-mlops-deploy-dot jp-mlops-deploy-${run.state}`}
          title={`${run.run_id}: ${stateText(run, trans)}`}
        />
      ))}
    </span>
  );
}

function LogsPane(props: {
  client: DeploymentsClient;
  name: string;
  runId: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { client, name, runId, trans } = props;
  const logs = useRequest(
    () => client.logs(name, runId),
    [client, name, runId]
  );
  if (logs.error) {
    return <ErrorCard error={logs.error} trans={trans} onRetry={logs.retry} />;
  }
  return (
    <pre
      className="jp-mlops-deploy-logs"
      aria-label={trans.__('Logs of %1', runId)}
    >
      {logs.value
        ? logs.value.text || trans.__('(no log lines)')
        : trans.__('Loading logs…')}
    </pre>
  );
}

function RunRow(props: {
  model: DeploymentsModel;
  deployment: IDeployment;
  run: IDeploymentRun;
  trans: TranslationBundle;
  actions: IDeploymentActions;
}): JSX.Element {
  const { model, deployment, run, trans, actions } = props;
  const [logs, setLogs] = React.useState(false);
  const failed = run.state === 'failed';
  const started = when(run.start);
  return (
    <li
      className={`jp-mlops-deploy-run${failed ? ' jp-mlops-deploy-runFailed' : ''}`}
      data-run-id={run.run_id}
    >
      <div className="jp-mlops-deploy-runHead">
        <span className={`jp-mlops-deploy-state jp-mlops-deploy-${run.state}`}>
          {stateText(run, trans)}
        </span>
        <span className="jp-mlops-deploy-runId" title={run.run_id}>
          {run.run_id}
        </span>
        <span className="jp-mlops-Muted" title={run.start ?? undefined}>
          {started ? relativeTime(started) : ''}
        </span>
        <span className="jp-mlops-Muted">
          {run.duration !== null && run.duration !== undefined
            ? durationText(run.duration * 1000)
            : ''}
        </span>
        {run.try_number !== null && run.try_number !== undefined && (
          <span className="jp-mlops-Muted">
            {trans.__('try %1', run.try_number)}
          </span>
        )}
      </div>
      {failed && (run.failed_cell || run.error) && (
        <div className="jp-mlops-deploy-failure" role="note">
          {run.failed_cell && (
            <div>
              {trans.__('Failing cell:')} <code>{run.failed_cell}</code>
            </div>
          )}
          {run.error && <div>{run.error}</div>}
        </div>
      )}
      <div className="jp-mlops-deploy-runActions">
        <ActionLink
          className="jp-mlops-Link"
          title={trans.__('Show the run’s log')}
          onActivate={() => setLogs(!logs)}
        >
          {logs ? trans.__('hide logs') : trans.__('logs')}
        </ActionLink>
        {run.output && (
          <ActionLink
            className="jp-mlops-Link"
            title={run.output}
            onActivate={() => actions.openPath(run.output!)}
          >
            <notebookIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('output')}
          </ActionLink>
        )}
        {run.mlflow_run_id && (
          <ActionLink
            className="jp-mlops-Link"
            title={trans.__('Open the tracked run')}
            onActivate={() => actions.openRun(run.mlflow_run_id!)}
          >
            {trans.__('tracked run')}
          </ActionLink>
        )}
        {isActive(run) && (
          <Button
            minimal
            small
            disabled={model.busy !== null}
            title={trans.__('Cancel this run')}
            onClick={() => void model.cancel(deployment.name, run.run_id)}
          >
            <stopIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('Cancel')}
          </Button>
        )}
      </div>
      {logs && (
        <LogsPane
          client={model.client}
          name={deployment.name}
          runId={run.run_id}
          trans={trans}
        />
      )}
    </li>
  );
}

/** Run now: the job's parameters form (its JSON Schema), each refusal beside its field. */
function RunNow(props: {
  model: DeploymentsModel;
  deployment: IDeployment;
  trans: TranslationBundle;
  actions: IDeploymentActions;
}): JSX.Element {
  const { model, deployment, trans, actions } = props;
  const jobs = useRequest(() => actions.jobs(), [actions]);
  const job = jobs.value?.find(j => j.path === deployment.job) ?? null;
  const form = React.useMemo(
    () => runForm(job?.parameters ?? {}, trans),
    [job, trans]
  );
  const [data, setData] = React.useState<FormData>(form.defaults);
  const [extraErrors, setExtraErrors] = React.useState<ErrorSchema<FormData>>(
    {}
  );
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [started, setStarted] = React.useState<string | null>(null);
  React.useEffect(() => setData(form.defaults), [form]);
  if (jobs.error) {
    return <ErrorCard error={jobs.error} trans={trans} onRetry={jobs.retry} />;
  }
  if (!jobs.value) {
    return <div className="jp-mlops-Placeholder">{trans.__('Loading…')}</div>;
  }
  const run = async (values: FormData) => {
    setExtraErrors({});
    setFailure(null);
    setBusy(true);
    try {
      const started = await model.trigger(
        deployment.name,
        runValues(form, values)
      );
      setStarted(started.run_id);
    } catch (reason) {
      const error = asApiError(reason);
      const { fields, others } = serverErrors(error, form);
      setExtraErrors(fields);
      if (Object.keys(fields).length === 0) {
        setFailure(error);
      } else if (others.length) {
        setFailure(
          new MlopsApiError(others.join(' '), error.status, error.code)
        );
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <section
      className="jp-mlops-deploy-runNow"
      aria-label={trans.__('Run now')}
    >
      {!job && (
        <div className="jp-mlops-Muted">
          {trans.__(
            'The job folder %1 is not here: its run uses the deployed defaults.',
            deployment.job
          )}
        </div>
      )}
      <FormComponent
        className="jp-mlops-runForm"
        idPrefix={`jp-mlops-deploy-${deployment.name}`}
        schema={form.schema}
        uiSchema={form.uiSchema as IFormComponentProps['uiSchema']}
        formData={data as IFormComponentProps['formData']}
        formContext={{ defaultFormData: form.defaults }}
        validator={validator as IFormComponentProps['validator']}
        customValidate={(values, errors) =>
          checkValues(form, values as FormData, errors, trans)
        }
        transformErrors={errors => errorWords(errors, trans)}
        extraErrors={extraErrors}
        noHtml5Validate
        showErrorList={false}
        buttonStyle="text"
        onChange={event => setData(event.formData as FormData)}
        onSubmit={event => void run(event.formData as FormData)}
      >
        <Button
          type="submit"
          className="jp-mlops-export-primary"
          disabled={busy}
        >
          <runIcon.react tag="span" className="jp-mlops-export-icon" />
          {busy ? trans.__('Starting…') : trans.__('Run now')}
        </Button>
      </FormComponent>
      {started && (
        <div className="jp-mlops-Muted" role="status">
          {trans.__('Run %1 started.', started)}
        </div>
      )}
      {failure && <ErrorCard error={failure} trans={trans} />}
    </section>
  );
}

function DeploymentCard(props: {
  model: DeploymentsModel;
  deployment: IDeployment;
  trans: TranslationBundle;
  actions: IDeploymentActions;
}): JSX.Element {
  const { model, deployment, trans, actions } = props;
  const open = model.selected === deployment.name;
  const [runNow, setRunNow] = React.useState(false);
  const latest = deployment.latest_runs ?? [];
  const lastFailed = latest[0]?.state === 'failed';
  const busy = model.busy !== null;
  return (
    <li
      className={`jp-mlops-deploy-card${lastFailed ? ' jp-mlops-deploy-cardFailed' : ''}`}
      data-deployment={deployment.name}
    >
      <div className="jp-mlops-deploy-head">
        <ActionLink
          className="jp-mlops-deploy-name"
          aria-expanded={open}
          title={trans.__('Show the runs of %1', deployment.name)}
          onActivate={() => void model.select(open ? null : deployment.name)}
        >
          {deployment.name}
        </ActionLink>
        <span className="jp-mlops-export-badge">{deployment.engine}</span>
        <span className="jp-mlops-Muted">
          {deployment.schedule
            ? trans.__('schedule %1', deployment.schedule)
            : trans.__('no schedule')}
        </span>
        {deployment.paused && (
          <span className="jp-mlops-deploy-paused">{trans.__('paused')}</span>
        )}
        <StatusStrip runs={latest} trans={trans} />
      </div>
      <div className="jp-mlops-deploy-actions">
        <Button
          minimal
          small
          disabled={busy}
          onClick={() => setRunNow(!runNow)}
        >
          <runIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Run now…')}
        </Button>
        {deployment.paused ? (
          <Button
            minimal
            small
            disabled={busy}
            title={trans.__('Let the schedule start runs again')}
            onClick={() => void model.resume(deployment.name)}
          >
            {trans.__('Resume')}
          </Button>
        ) : (
          <Button
            minimal
            small
            disabled={busy}
            title={trans.__('Stop the schedule from starting runs')}
            onClick={() => void model.pause(deployment.name)}
          >
            {trans.__('Pause')}
          </Button>
        )}
        <Button
          minimal
          small
          title={trans.__(
            'Charts of the runs: outcome, duration, metrics, drift'
          )}
          onClick={() => actions.openMonitoring(deployment.name)}
        >
          {trans.__('Monitor')}
        </Button>
      </div>
      {runNow && (
        <RunNow
          model={model}
          deployment={deployment}
          trans={trans}
          actions={actions}
        />
      )}
      {open && (
        <div className="jp-mlops-deploy-runs">
          {model.runsError && (
            <ErrorCard
              error={model.runsError}
              trans={trans}
              onRetry={() => void model.loadRuns()}
            />
          )}
          {model.runs === null && !model.runsError && (
            <div className="jp-mlops-Placeholder">
              {trans.__('Loading runs…')}
            </div>
          )}
          {model.runs?.length === 0 && (
            <div className="jp-mlops-Placeholder">
              {trans.__('No runs yet.')}
            </div>
          )}
          {model.runs && model.runs.length > 0 && (
            <ul className="jp-mlops-deploy-runList">
              {model.runs.map(run => (
                <RunRow
                  key={run.run_id}
                  model={model}
                  deployment={deployment}
                  run={run}
                  trans={trans}
                  actions={actions}
                />
              ))}
            </ul>
          )}
        </div>
      )}
    </li>
  );
}

/** Deployments on their engines: schedule, latest runs, run now, pause, runs and logs. */
export function DeploymentsView(props: {
  model: DeploymentsModel;
  trans: TranslationBundle;
  actions: IDeploymentActions;
}): JSX.Element {
  const { model, trans, actions } = props;
  if (model.error && !model.loaded) {
    return (
      <ErrorCard
        error={model.error}
        trans={trans}
        onRetry={() => void model.refresh()}
      />
    );
  }
  if (!model.loaded) {
    return (
      <div className="jp-mlops-Placeholder">
        {trans.__('Loading deployments…')}
      </div>
    );
  }
  return (
    <div className="jp-mlops-deploy" data-testid="mlops-deployments">
      {model.error && (
        <ErrorCard
          error={model.error}
          trans={trans}
          onRetry={() => void model.refresh()}
        />
      )}
      {model.engineErrors.map(error => (
        <div
          key={`${error.engine} ${error.url}`}
          className="jp-mlops-ErrorCard"
          role="alert"
        >
          {trans.__('%1 at %2: %3', error.engine, error.url, error.message)}
        </div>
      ))}
      {model.actionError && (
        <ErrorCard
          error={model.actionError}
          trans={trans}
          onRetry={() => model.dismissActionError()}
        />
      )}
      {model.deployments.length === 0 ? (
        <div className="jp-mlops-Placeholder">
          {trans.__(
            'No deployments yet. Deploy an exported job with `jupyter mlops deploy JOB_DIR --engine airflow`.'
          )}
        </div>
      ) : (
        <ul className="jp-mlops-deploy-list">
          {model.deployments.map(deployment => (
            <DeploymentCard
              key={deployment.name}
              model={model}
              deployment={deployment}
              trans={trans}
              actions={actions}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
