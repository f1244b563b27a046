import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  LabIcon,
  checkIcon,
  errorIcon,
  notebookIcon,
  runningIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import type { JobExecution } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { durationText } from '../components/RunsView';
import { ActionLink } from '../components/ActionLink';
import { useModel } from '../components/useRequest';
import { ExecutionModel } from './model';

type Status = JobExecution['status'];

const STATUS_ICONS: Record<Status, LabIcon> = {
  running: runningIcon,
  succeeded: checkIcon,
  failed: errorIcon,
  invalid: errorIcon,
  killed: stopIcon,
  interrupted: stopIcon
};

export function statusLabel(status: Status, trans: TranslationBundle): string {
  return {
    running: trans.__('running'),
    succeeded: trans.__('succeeded'),
    failed: trans.__('failed'),
    invalid: trans.__('invalid parameters'),
    killed: trans.__('stopped'),
    interrupted: trans.__('interrupted')
  }[status];
}

/** An execution's status: an icon and a word, coloured by the theme. */
export function ExecutionStatus(props: {
  status: Status;
  trans: TranslationBundle;
}): JSX.Element {
  const Icon = STATUS_ICONS[props.status];
  return (
    <span
      className={`jp-mlops-export-status jp-mod-${props.status}`}
      data-status={props.status}
    >
      <Icon.react tag="span" className="jp-mlops-export-statusIcon" />
      {statusLabel(props.status, props.trans)}
    </span>
  );
}

/** Milliseconds an execution ran (so far, while it runs). */
export function executionDuration(
  execution: Pick<JobExecution, 'started_at' | 'ended_at'>,
  now: number = Date.now()
): number | null {
  const start = Date.parse(execution.started_at);
  const end = execution.ended_at ? Date.parse(execution.ended_at) : now;
  return Number.isNaN(start) || Number.isNaN(end)
    ? null
    : Math.max(0, end - start);
}

/** Whether the output notebook is worth opening: papermill wrote it, in part or whole. */
export function hasOutput(execution: JobExecution): boolean {
  // An interrupted run's notebook holds what papermill wrote before the server stopped.
  return (
    execution.status === 'succeeded' ||
    execution.status === 'failed' ||
    execution.status === 'interrupted'
  );
}

interface IExecutionViewProps {
  client: MlopsClient;
  execution: JobExecution;
  trans: TranslationBundle;
  openPath: (path: string) => void;
  /** Called once the execution is over (succeeded, failed, invalid or stopped). */
  onFinished?: (execution: JobExecution) => void;
}

/** A job run followed until it ends: status, duration, log tail, Stop, output notebook. */
export function ExecutionView(props: IExecutionViewProps): JSX.Element {
  const { client, trans } = props;
  // One model for the view's life; the parent's later executions are followed by it.
  const [model] = React.useState(
    () => new ExecutionModel(client, props.execution)
  );
  useModel(model);
  const logRef = React.useRef<HTMLPreElement>(null);
  const onFinished = React.useRef(props.onFinished);
  onFinished.current = props.onFinished;

  // A new execution given by the parent (a run again) replaces this one.
  React.useEffect(() => {
    model.follow(props.execution);
  }, [model, props.execution]);

  React.useEffect(() => {
    const finished = (_: ExecutionModel, execution: JobExecution) =>
      onFinished.current?.(execution);
    model.finished.connect(finished);
    return () => {
      model.finished.disconnect(finished);
    };
  }, [model]);

  React.useEffect(() => () => model.dispose(), [model]);

  const { execution, error, stopping } = model;
  const id = execution.execution_id;
  const running = execution.status === 'running';

  // Keep the newest log lines in view unless the reader scrolled up.
  React.useLayoutEffect(() => {
    const node = logRef.current;
    if (node && node.scrollHeight - node.scrollTop - node.clientHeight < 40) {
      node.scrollTop = node.scrollHeight;
    }
  });

  return (
    <div
      className="jp-mlops-export-execution"
      data-testid="mlops-execution"
      data-execution-id={id}
    >
      <div className="jp-mlops-export-row">
        <ExecutionStatus status={execution.status} trans={trans} />
        <span className="jp-mlops-Muted">
          {execution.in_container
            ? trans.__('in the container')
            : trans.__('locally')}
          {' · '}
          {durationText(executionDuration(execution))}
          {execution.exit_code !== null &&
            ` · ${trans.__('exit code %1', execution.exit_code)}`}
        </span>
        {running && (
          <Button
            small
            disabled={stopping}
            onClick={() => void model.stop()}
            title={trans.__('Interrupt the job as Ctrl-C does')}
          >
            <stopIcon.react tag="span" className="jp-mlops-export-icon" />
            {stopping ? trans.__('Stopping…') : trans.__('Stop')}
          </Button>
        )}
      </div>
      {hasOutput(execution) && (
        <ActionLink
          className="jp-mlops-Link jp-mlops-export-output"
          title={execution.output}
          onActivate={() => props.openPath(execution.output)}
        >
          <notebookIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Open the output notebook')}
        </ActionLink>
      )}
      {error && (
        <ErrorCard error={error} trans={trans} onRetry={() => model.retry()} />
      )}
      {execution.log && (
        <pre className="jp-mlops-export-logTail" ref={logRef}>
          {execution.log}
        </pre>
      )}
    </div>
  );
}
