import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  buildIcon,
  folderIcon,
  notebookIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import type { JobExecution, JobInfo } from '../api/types';
import { sizeText } from '../export/build';
import {
  ExecutionStatus,
  executionDuration,
  hasOutput
} from '../export/ExecutionView';
import type { JobPane } from '../export/JobResult';
import { JobsModel } from '../export/model';
import { relativeTime } from '../format';
import { ErrorCard } from './ErrorCard';
import { durationText } from './RunsView';
import { ActionLink } from './ActionLink';

interface IJobsViewProps {
  model: JobsModel;
  trans: TranslationBundle;
  /** Open a job's Build or Run pane (the export dialog's pieces). */
  onAction: (job: JobInfo, pane: JobPane) => void;
  openPath: (path: string) => void;
  openFolder: (path: string) => void;
  /** Open a job's monitoring charts (its runs over time). */
  onMonitor?: (job: JobInfo) => void;
  /** Deploy a job onto an engine. */
  onDeploy?: (job: JobInfo) => void;
  /** Open the deployments tab. */
  onDeployments?: () => void;
}

function JobCard(props: {
  job: JobInfo;
  trans: TranslationBundle;
  onAction: (job: JobInfo, pane: JobPane) => void;
  openPath: (path: string) => void;
  openFolder: (path: string) => void;
  onMonitor?: (job: JobInfo) => void;
  onDeploy?: (job: JobInfo) => void;
}): JSX.Element {
  const { job, trans } = props;
  const build = job.build;
  return (
    <li className="jp-mlops-export-job" data-job={job.path}>
      <div className="jp-mlops-export-jobHead">
        <ActionLink
          className="jp-mlops-export-jobName"
          title={trans.__('Show %1 in the file browser', job.path)}
          onActivate={() => props.openFolder(job.path)}
        >
          <folderIcon.react tag="span" className="jp-mlops-export-icon" />
          {job.name}
        </ActionLink>
        <span className="jp-mlops-export-jobActions">
          <Button
            minimal
            small
            title={trans.__('Build the image of %1', job.name)}
            onClick={() => props.onAction(job, 'build')}
          >
            <buildIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('Build')}
          </Button>
          <Button
            minimal
            small
            title={trans.__('Run %1 with parameters', job.name)}
            onClick={() => props.onAction(job, 'run')}
          >
            <runIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('Run')}
          </Button>
          {props.onDeploy && (
            <Button
              minimal
              small
              title={trans.__('Deploy %1 onto Airflow', job.name)}
              onClick={() => props.onDeploy!(job)}
            >
              {trans.__('Deploy')}
            </Button>
          )}
          {props.onMonitor && (
            <Button
              minimal
              small
              title={trans.__(
                'Charts of the runs of %1: outcome, duration, metrics, drift',
                job.name
              )}
              onClick={() => props.onMonitor!(job)}
            >
              {trans.__('Monitor')}
            </Button>
          )}
        </span>
      </div>
      <div className="jp-mlops-export-jobMeta">
        {job.source ? (
          <ActionLink
            className="jp-mlops-Link"
            title={trans.__('Open the source notebook')}
            onActivate={() => props.openPath(job.source!)}
          >
            {job.source}
          </ActionLink>
        ) : (
          <span className="jp-mlops-Muted">{job.notebook}</span>
        )}
        <span className="jp-mlops-export-badges">
          {job.targets.map(target => (
            <span key={target} className="jp-mlops-export-badge">
              {target}
            </span>
          ))}
        </span>
      </div>
      <div className="jp-mlops-export-jobBuild">
        {build ? (
          <span title={build.image_id}>
            <code>{build.pushed ?? build.image}</code>
            {' · '}
            {sizeText(build.size)}
            {' · '}
            <span title={build.built_at}>
              {relativeTime(Date.parse(build.built_at))}
            </span>
          </span>
        ) : (
          <span className="jp-mlops-Muted">{trans.__('no image built')}</span>
        )}
      </div>
    </li>
  );
}

function ExecutionRow(props: {
  execution: JobExecution;
  name: string;
  trans: TranslationBundle;
  openPath: (path: string) => void;
  onStop: (execution: JobExecution) => void;
}): JSX.Element {
  const { execution, trans } = props;
  return (
    <li
      className="jp-mlops-export-executionRow"
      data-execution-id={execution.execution_id}
    >
      <div className="jp-mlops-export-executionHead">
        <ExecutionStatus status={execution.status} trans={trans} />
        <span className="jp-mlops-export-executionJob" title={execution.job}>
          {props.name}
        </span>
        {execution.status === 'running' ? (
          <Button
            minimal
            small
            title={trans.__('Stop this run')}
            onClick={() => props.onStop(execution)}
          >
            <stopIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('Stop')}
          </Button>
        ) : hasOutput(execution) ? (
          <ActionLink
            className="jp-mlops-Link"
            title={execution.output}
            onActivate={() => props.openPath(execution.output)}
          >
            <notebookIcon.react tag="span" className="jp-mlops-export-icon" />
            {trans.__('output')}
          </ActionLink>
        ) : null}
      </div>
      <div className="jp-mlops-export-executionMeta">
        <span title={new Date(execution.started_at).toLocaleString()}>
          {relativeTime(Date.parse(execution.started_at))}
        </span>
        {' · '}
        {durationText(executionDuration(execution))}
        {execution.in_container && ` · ${trans.__('in the container')}`}
      </div>
    </li>
  );
}

/** The Jobs section: exported job folders with Build and Run, and the runs started here. */
export function JobsView(props: IJobsViewProps): JSX.Element {
  const { model, trans } = props;
  const names = new Map(model.jobs.map(job => [job.path, job.name]));
  if (model.error) {
    return (
      <div className="jp-mlops-export-jobs">
        <ErrorCard
          error={model.error}
          trans={trans}
          onRetry={() => void model.refresh()}
        />
      </div>
    );
  }
  if (!model.loaded) {
    return (
      <div className="jp-mlops-Placeholder">{trans.__('Loading jobs…')}</div>
    );
  }
  return (
    <div className="jp-mlops-export-jobs" data-testid="mlops-jobs">
      {model.jobs.length === 0 ? (
        <div className="jp-mlops-Placeholder">
          {trans.__(
            'No jobs yet. Export a notebook with "Export to Pipeline…" in its toolbar.'
          )}
        </div>
      ) : (
        <ul className="jp-mlops-export-jobList">
          {model.jobs.map(job => (
            <JobCard
              key={job.path}
              job={job}
              trans={trans}
              onAction={props.onAction}
              openPath={props.openPath}
              openFolder={props.openFolder}
              onMonitor={props.onMonitor}
              onDeploy={props.onDeploy}
            />
          ))}
        </ul>
      )}
      {props.onDeployments && (
        <div className="jp-mlops-export-row">
          <ActionLink
            className="jp-mlops-Link"
            title={trans.__(
              'Jobs deployed onto their engines: schedules, runs, logs, run now'
            )}
            onActivate={props.onDeployments}
          >
            {trans.__('Deployments')}
          </ActionLink>
        </div>
      )}
      {model.stopError && (
        <ErrorCard
          error={model.stopError}
          trans={trans}
          onRetry={() => {
            model.dismissStopError();
            void model.refresh();
          }}
        />
      )}
      {model.executions.length > 0 && (
        <>
          <h3 className="jp-mlops-export-heading">{trans.__('Job runs')}</h3>
          <ul className="jp-mlops-export-executions">
            {model.executions.map(execution => (
              <ExecutionRow
                key={execution.execution_id}
                execution={execution}
                name={names.get(execution.job) ?? execution.job}
                trans={trans}
                openPath={props.openPath}
                onStop={e => void model.stop(e.execution_id)}
              />
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
