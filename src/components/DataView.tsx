import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  caretDownIcon,
  caretRightIcon,
  fileIcon,
  folderIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  DataClient,
  bytesText,
  shortMd5,
  taskPercent,
  type DataPathSummary,
  type DataTask,
  type DataVersionEntry
} from '../api/data';
import { DataModel } from '../data/model';
import { relativeTime } from '../format';
import { ErrorCard } from './ErrorCard';
import { ActionLink } from './ActionLink';
import { useModel, useRequest } from './useRequest';

/** Ask before a restore overwrites changes that no snapshot holds. */
export function confirmLosingChanges(
  trans: TranslationBundle
): (message: string) => Promise<boolean> {
  return async message => {
    const answer = await showDialog({
      title: trans.__('Discard local changes?'),
      body: message,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep my changes') }),
        Dialog.warnButton({ label: trans.__('Restore anyway') })
      ]
    });
    return answer.button.accept;
  };
}

/** What a task is doing, for people: "Snapshot: hashing 45% (900 MiB of 2.0 GiB)". */
export function taskText(task: DataTask, trans: TranslationBundle): string {
  const kinds: Record<DataTask['kind'], string> = {
    snapshot: trans.__('Snapshot'),
    restore: trans.__('Restore'),
    push: trans.__('Push'),
    pull: trans.__('Pull')
  };
  const percent = taskPercent(task);
  const amount =
    task.unit === 'bytes'
      ? task.total
        ? trans.__('%1 of %2', bytesText(task.done), bytesText(task.total))
        : bytesText(task.done)
      : task.total
        ? trans.__('%1 of %2 files', task.done, task.total)
        : '';
  const parts = [`${kinds[task.kind]}: ${task.phase}`];
  if (percent !== null) {
    parts.push(`${percent}%`);
  }
  if (amount) {
    parts.push(`(${amount})`);
  }
  return parts.join(' ');
}

function TaskProgress(props: {
  task: DataTask;
  trans: TranslationBundle;
  onCancel: () => void;
}): JSX.Element {
  const { task, trans } = props;
  const percent = taskPercent(task);
  return (
    <div className="jp-mlops-DataTask" role="status">
      <div className="jp-mlops-DataTask-text">{taskText(task, trans)}</div>
      <progress
        className="jp-mlops-DataTask-bar"
        max={100}
        value={percent ?? undefined}
      />
      <Button minimal small onClick={props.onCancel}>
        {trans.__('Cancel')}
      </Button>
    </div>
  );
}

const STATE_CLASS: Record<DataPathSummary['workspace'], string> = {
  unchanged: 'jp-mod-on',
  modified: 'jp-mod-changed',
  missing: 'jp-mod-changed',
  unknown: 'jp-mod-off'
};

function stateText(
  state: DataPathSummary['workspace'],
  trans: TranslationBundle
): string {
  switch (state) {
    case 'unchanged':
      return trans.__('as snapshotted');
    case 'modified':
      return trans.__('changed since');
    case 'missing':
      return trans.__('missing');
    default:
      return trans.__('maybe changed');
  }
}

function VersionRow(props: {
  path: string;
  version: DataVersionEntry;
  busy: boolean;
  trans: TranslationBundle;
  onRestore: (path: string, md5: string) => void;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { version: v, trans } = props;
  return (
    <li className="jp-mlops-DataVersion" data-md5={v.md5}>
      <div className="jp-mlops-DataVersion-head">
        <code className="jp-mlops-DataVersion-md5" title={v.md5}>
          {shortMd5(v.md5)}
        </code>
        {!v.workspace && (
          <Button
            minimal
            small
            disabled={props.busy || (!v.in_cache && v.pushed !== true)}
            title={trans.__('Put this version of %1 back on disk', props.path)}
            onClick={() => props.onRestore(props.path, v.md5)}
          >
            {trans.__('Restore')}
          </Button>
        )}
      </div>
      <div className="jp-mlops-DataVersion-message">
        {v.message ?? trans.__('(no message)')}
      </div>
      <div className="jp-mlops-Muted">
        {[
          relativeTime(v.created),
          bytesText(v.size),
          v.nfiles !== null ? trans.__('%1 files', v.nfiles) : '',
          v.commits.length
            ? trans.__('commit %1', v.commits[0].slice(0, 8))
            : ''
        ]
          .filter(Boolean)
          .join(' · ')}
      </div>
      <div className="jp-mlops-Badges">
        {v.current && (
          <span className="jp-mlops-Badge jp-mod-on">
            {trans.__('current')}
          </span>
        )}
        {v.workspace && (
          <span className="jp-mlops-Badge jp-mod-on">
            {trans.__('on disk')}
          </span>
        )}
        {!v.in_cache && (
          <span className="jp-mlops-Badge jp-mod-off">
            {trans.__('not in the local cache')}
          </span>
        )}
        {v.pushed === false && (
          <span className="jp-mlops-Badge jp-mod-changed">
            {trans.__('push failed')}
          </span>
        )}
        {v.pushed === true && (
          <span className="jp-mlops-Badge jp-mod-off">
            {trans.__('pushed')}
          </span>
        )}
      </div>
      {v.runs.length > 0 && (
        <div className="jp-mlops-DataVersion-runs">
          {trans._n('Read by %1 run:', 'Read by %1 runs:', v.runs.length)}{' '}
          {v.runs.slice(0, 5).map(run => (
            <ActionLink
              key={run.run_id}
              className="jp-mlops-Link"
              title={run.run_id}
              onActivate={() => props.onOpenRun(run.run_id)}
            >
              {run.run_name || run.run_id.slice(0, 8)}
            </ActionLink>
          ))}
          {v.runs.length > 5 && (
            <span className="jp-mlops-Muted">
              {' '}
              {trans.__('and %1 more', v.runs.length - 5)}
            </span>
          )}
        </div>
      )}
    </li>
  );
}

function PathRow(props: {
  model: DataModel;
  item: DataPathSummary;
  trans: TranslationBundle;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { model, item, trans } = props;
  const open = model.selected === item.path;
  const Caret = open ? caretDownIcon : caretRightIcon;
  const Kind = item.kind === 'folder' ? folderIcon : fileIcon;
  const history = open ? model.history : null;
  const snapshot = async () => {
    const answer = await InputDialog.getText({
      title: trans.__('Snapshot %1', item.path),
      label: trans.__('What is this version? (optional)'),
      placeholder: trans.__('e.g. relabelled the cats')
    });
    if (answer.button.accept) {
      await model.snapshot(item.path, answer.value ?? undefined);
    }
  };
  return (
    <li className="jp-mlops-DataPath" data-path={item.path}>
      <div className="jp-mlops-DataPath-head">
        <ActionLink
          className="jp-mlops-DataPath-name"
          aria-expanded={open}
          onActivate={() => void model.select(open ? null : item.path)}
        >
          <Caret.react tag="span" className="jp-mlops-DataPath-icon" />
          <Kind.react tag="span" className="jp-mlops-DataPath-icon" />
          {item.path}
        </ActionLink>
        <Button
          minimal
          small
          disabled={model.busy}
          title={trans.__(
            'Snapshot %1 (a new version if it changed)',
            item.path
          )}
          onClick={() => void snapshot()}
        >
          {trans.__('Snapshot')}
        </Button>
      </div>
      <div className="jp-mlops-Muted">
        {[
          bytesText(item.size),
          item.nfiles !== null ? trans.__('%1 files', item.nfiles) : '',
          trans._n('%1 version', '%1 versions', item.versions),
          item.last_snapshot ? relativeTime(item.last_snapshot) : ''
        ]
          .filter(Boolean)
          .join(' · ')}
      </div>
      <div className="jp-mlops-Badges">
        <span className={`jp-mlops-Badge ${STATE_CLASS[item.workspace]}`}>
          {stateText(item.workspace, trans)}
        </span>
        {item.pushed === false && (
          <span className="jp-mlops-Badge jp-mod-changed">
            {trans.__('push failed')}
          </span>
        )}
      </div>
      {open && model.historyError && (
        <ErrorCard
          error={model.historyError}
          trans={trans}
          onRetry={() => void model.select(item.path)}
        />
      )}
      {open && !history && !model.historyError && (
        <div className="jp-mlops-Placeholder">{trans.__('Loading…')}</div>
      )}
      {history && (
        <>
          {history.runs_error && (
            <div className="jp-mlops-Muted">
              {trans.__('Runs unknown: %1', history.runs_error)}
            </div>
          )}
          <ul className="jp-mlops-DataVersions">
            {history.versions.map(version => (
              <VersionRow
                key={version.md5}
                path={item.path}
                version={version}
                busy={model.busy}
                trans={trans}
                onRestore={(path, md5) => void model.restore(path, md5)}
                onOpenRun={props.onOpenRun}
              />
            ))}
          </ul>
        </>
      )}
    </li>
  );
}

/** The panel's Data section: tracked paths, their versions and runs, restore, push, pull. */
export function DataView(props: {
  model: DataModel;
  trans: TranslationBundle;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { model, trans } = props;
  const listing = model.paths;
  const task = model.task;
  return (
    <div className="jp-mlops-Data">
      <div className="jp-mlops-Data-actions">
        <Button
          minimal
          small
          title={trans.__('Look at the tracked data again')}
          onClick={() => void model.refresh()}
        >
          {trans.__('Refresh')}
        </Button>
        <Button
          minimal
          small
          disabled={model.busy || !listing?.remotes.length}
          title={trans.__('Push the data versions to the DVC remote')}
          onClick={() => void model.push()}
        >
          {trans.__('Push')}
        </Button>
        <Button
          minimal
          small
          disabled={model.busy || !listing?.remotes.length}
          title={trans.__('Fetch the current versions from the DVC remote')}
          onClick={() => void model.pull()}
        >
          {trans.__('Pull')}
        </Button>
        {listing && listing.remotes.length > 0 && (
          <span className="jp-mlops-Muted">
            {trans.__(
              'remote %1',
              (listing.remotes.find(r => r.default) ?? listing.remotes[0]).name
            )}
          </span>
        )}
      </div>
      {task && task.state === 'running' && (
        <TaskProgress
          task={task}
          trans={trans}
          onCancel={() => void model.cancel()}
        />
      )}
      {model.taskError && (
        <ErrorCard
          error={model.taskError}
          trans={trans}
          onRetry={() => void model.refresh()}
        />
      )}
      {model.error && (
        <ErrorCard
          error={model.error}
          trans={trans}
          onRetry={() => void model.refresh()}
        />
      )}
      {!listing && !model.error && (
        <div className="jp-mlops-Placeholder">{trans.__('Loading…')}</div>
      )}
      {listing && listing.paths.length === 0 && (
        <div className="jp-mlops-Placeholder">
          {listing.dvc
            ? trans.__('No data snapshots yet.')
            : trans.__(
                'No DVC repository yet: the first snapshot sets one up.'
              )}{' '}
          {trans.__('In a notebook: %snapshot PATH -m "message"')}
        </div>
      )}
      {listing && listing.paths.length > 0 && (
        <ul className="jp-mlops-DataPaths">
          {listing.paths.map(item => (
            <PathRow
              key={item.path}
              model={model}
              item={item}
              trans={trans}
              onOpenRun={props.onOpenRun}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * "Restore the data this run used", for a run's details: the DVC versions it read, and
 * a button that checks them out (asking first if local changes would be lost).
 */
export function RunDataRestore(props: {
  client: DataClient;
  runId: string;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { client, runId, trans } = props;
  const request = useRequest(() => client.runData(runId), [client, runId]);
  const [outcome, setOutcome] = React.useState<string | null>(null);
  // One model for the view's life: the restore's progress, and its confirmation.
  const [model] = React.useState(
    () => new DataModel(client, confirmLosingChanges(trans))
  );
  useModel(model);
  React.useEffect(() => () => model.dispose(), [model]);

  if (request.error) {
    return (
      <ErrorCard error={request.error} trans={trans} onRetry={request.retry} />
    );
  }
  const data = request.value;
  if (!data || data.paths.length === 0) {
    return null;
  }
  const task = model.task;
  const restorable = data.paths.every(p => p.restorable);
  const current = data.paths.every(p => p.current);
  const restore = async () => {
    setOutcome(null);
    const done = await model.restoreRun(runId);
    if (done?.restore) {
      const paths = done.restore.paths.filter(p => p.restored).map(p => p.path);
      setOutcome(
        paths.length
          ? trans.__('Restored %1.', paths.join(', '))
          : trans.__('The data on disk is already what this run read.')
      );
      request.retry(); // what is on disk now
    } else if (model.taskError) {
      setOutcome(model.taskError.message);
    }
  };
  return (
    <div className="jp-mlops-RunData">
      <ul className="jp-mlops-RunData-paths">
        {data.paths.map(p => (
          <li key={p.path}>
            <code>{p.path}</code> <code title={p.md5}>{shortMd5(p.md5)}</code>{' '}
            <span className="jp-mlops-Muted">
              {p.current
                ? trans.__('on disk now')
                : p.restorable
                  ? p.in_cache
                    ? trans.__('in the local cache')
                    : trans.__('on the DVC remote')
                  : p.reason}
            </span>
          </li>
        ))}
      </ul>
      <Button
        small
        disabled={!restorable || current || model.busy}
        title={
          restorable
            ? trans.__('Check out the data versions this run read')
            : data.paths
                .filter(p => !p.restorable)
                .map(p => `${p.path}: ${p.reason}`)
                .join('\n')
        }
        onClick={() => void restore()}
      >
        {trans.__('Restore the data this run used')}
      </Button>
      {task && task.state === 'running' && (
        <TaskProgress
          task={task}
          trans={trans}
          onCancel={() => void model.cancel()}
        />
      )}
      {outcome && <div className="jp-mlops-Muted">{outcome}</div>}
    </div>
  );
}
