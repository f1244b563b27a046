import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  InputGroup,
  buildIcon,
  checkIcon,
  errorIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { asApiError } from '../api/request';
import type { JobBuild, JobInfo, TaskRecord } from '../api/types';
import { TaskModel } from '../tasks/model';
import {
  IBuildState,
  IDLE_BUILD,
  buildStateOfTask,
  failedBuild,
  sizeText,
  startedBuild
} from './build';

/** What a build made, in one line. */
export function BuildSummary(props: {
  build: JobBuild;
  trans: TranslationBundle;
}): JSX.Element {
  const { build, trans } = props;
  return (
    <span className="jp-mlops-export-buildSummary">
      <code>{build.pushed ?? build.image}</code>{' '}
      {trans.__(
        '%1 · %2 steps in %3 s',
        sizeText(build.size),
        build.steps,
        build.seconds.toFixed(1)
      )}
    </span>
  );
}

/** A build as it goes: the step bar, the instruction running, the log, the outcome. */
export function BuildProgress(props: {
  state: IBuildState;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { state, trans } = props;
  if (state.phase === 'idle') {
    return null;
  }
  const { step, total } = state;
  const known = step !== null && total !== null && total > 0;
  const percent = known ? Math.round((step! / total!) * 100) : 0;
  return (
    <div
      className={`jp-mlops-export-build jp-mod-${state.phase}`}
      data-testid="mlops-build-progress"
    >
      {state.phase !== 'failed' && (
        <div
          className={`jp-mlops-export-bar${known ? '' : ' jp-mod-indeterminate'}`}
          role="progressbar"
          aria-label={trans.__('Build progress')}
          aria-valuemin={0}
          aria-valuemax={total ?? undefined}
          aria-valuenow={step ?? undefined}
        >
          <div
            className="jp-mlops-export-barFill"
            style={{ width: known ? `${percent}%` : undefined }}
          />
        </div>
      )}
      {state.phase === 'building' && (
        <div className="jp-mlops-export-step">
          {known
            ? trans.__('Step %1 of %2', step!, total!)
            : trans.__('Starting the build…')}
          {state.instruction && (
            <code className="jp-mlops-export-instruction">
              {state.instruction}
            </code>
          )}
          {state.pushing && (
            <div className="jp-mlops-export-push">
              {trans.__('Pushing: %1', state.pushing)}
            </div>
          )}
        </div>
      )}
      {state.phase === 'done' && state.build && (
        <div className="jp-mlops-export-outcome jp-mod-ok" role="status">
          <checkIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Built')} <BuildSummary build={state.build} trans={trans} />
        </div>
      )}
      {state.phase === 'failed' && state.error && (
        <div className="jp-mlops-export-outcome jp-mod-error" role="alert">
          <errorIcon.react tag="span" className="jp-mlops-export-icon" />
          <div>
            <div className="jp-mlops-export-errorMessage">
              {state.error.message}
            </div>
            {state.step !== null && state.instruction && (
              <div className="jp-mlops-export-errorWhere">
                {trans.__('At step %1: ', state.step)}
                <code>{state.instruction}</code>
              </div>
            )}
          </div>
        </div>
      )}
      {state.log.length > 0 && (
        <details
          className="jp-mlops-export-log"
          open={state.phase === 'failed' ? true : undefined}
        >
          <summary>
            {trans.__('Build log (%1 lines)', state.log.length + state.dropped)}
          </summary>
          <pre>
            {state.dropped > 0 &&
              trans.__('(%1 earlier lines not shown)\n', state.dropped)}
            {state.log.join('\n')}
          </pre>
        </details>
      )}
    </div>
  );
}

interface IBuildPaneProps {
  client: MlopsClient;
  job: JobInfo;
  trans: TranslationBundle;
  /** Start building as soon as the pane shows (the Build action of the Jobs list). */
  autoStart?: boolean;
  onBuilt: (build: JobBuild) => void;
}

/**
 * Build (and optionally push) a job's image. The build is a task on the server, followed
 * by a {@link TaskModel}: it goes on when the pane closes, and a pane opened later (or
 * after a reload) finds the job's running build and follows it.
 */
export function BuildPane(props: IBuildPaneProps): JSX.Element {
  const { client, job, trans } = props;
  const [tag, setTag] = React.useState('');
  const [push, setPush] = React.useState(false);
  const [state, setState] = React.useState<IBuildState>(IDLE_BUILD);
  const following = React.useRef<TaskModel | null>(null);
  const onBuilt = React.useRef(props.onBuilt);
  onBuilt.current = props.onBuilt;

  const follow = React.useCallback(
    (task: TaskRecord) => {
      following.current?.dispose();
      const model = new TaskModel({
        task,
        fetch: taskId => client.task(taskId),
        cancel: taskId => client.cancelTask(taskId),
        name: 'jupyter-mlops:build'
      });
      following.current = model;
      setState(buildStateOfTask(task));
      model.changed.connect(() => setState(buildStateOfTask(model.task)));
      model.follow().then(
        done => {
          if (following.current === model && done.state === 'done') {
            const built = done.result as unknown as JobBuild | null;
            if (built) {
              onBuilt.current(built);
            }
          }
        },
        error => {
          if (following.current === model) {
            const failure = asApiError(error);
            setState(previous =>
              failedBuild(previous, failure.message, failure.code)
            );
          }
        }
      );
    },
    [client]
  );

  const start = React.useCallback(async () => {
    setState(startedBuild());
    try {
      follow(
        await client.startBuild({
          job: job.path,
          tag: tag.trim() || null,
          push
        })
      );
    } catch (error) {
      const failure = asApiError(error);
      setState(previous =>
        failedBuild(previous, failure.message, failure.code)
      );
    }
  }, [client, follow, job.path, tag, push]);

  React.useEffect(() => {
    let mounted = true;
    // A build of this job already running (started from another page, or before a
    // reload) is followed; otherwise the Build action starts one.
    client
      .tasks({ kind: 'build', state: 'running' })
      .then(
        list => list.tasks.find(task => task.request?.['job'] === job.path),
        () => undefined
      )
      .then(running => {
        if (!mounted || following.current) {
          return;
        }
        if (running) {
          follow(running);
        } else if (props.autoStart) {
          void start();
        }
      });
    return () => {
      mounted = false;
      const model = following.current;
      following.current = null;
      model?.dispose();
    };
    // Only on mount: later changes of the options (and so of `start`) wait for the
    // button; the build goes on on the server when the pane goes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const building = state.phase === 'building';
  return (
    <section className="jp-mlops-export-pane" aria-label={trans.__('Build')}>
      <div className="jp-mlops-export-row">
        <InputGroup
          className="jp-mlops-export-tag"
          type="text"
          aria-label={trans.__('Image tag')}
          placeholder={trans.__('Image tag (default %1:latest)', job.name)}
          value={tag}
          disabled={building}
          onChange={event => setTag(event.target.value)}
        />
        <label className="jp-mlops-export-check">
          <input
            type="checkbox"
            checked={push}
            disabled={building}
            onChange={event => setPush(event.target.checked)}
          />
          {trans.__('Push to the registry')}
        </label>
        <Button
          className="jp-mlops-export-primary"
          disabled={building}
          onClick={() => void start()}
        >
          <buildIcon.react tag="span" className="jp-mlops-export-icon" />
          {building
            ? trans.__('Building…')
            : state.phase === 'idle'
              ? trans.__('Build image')
              : trans.__('Build again')}
        </Button>
        {building && (
          <Button
            minimal
            title={trans.__('Stop the build')}
            onClick={() => void following.current?.cancel()}
          >
            {trans.__('Stop')}
          </Button>
        )}
      </div>
      {state.error?.code === 'no_container_engine' && (
        <div className="jp-mlops-export-hint">
          {trans.__(
            'Building needs a container engine on the server. The export itself is done: the job folder can be built elsewhere with `jupyter mlops build`.'
          )}
        </div>
      )}
      <BuildProgress state={state} trans={trans} />
    </section>
  );
}
