import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  buildIcon,
  folderIcon,
  notebookIcon,
  runIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import type { JobBuild, JobDataPin, JobInfo } from '../api/types';
import { sizeText } from './build';
import { BuildPane, BuildSummary } from './BuildPane';
import { jobWarnings } from './options';
import { parameterList } from './parameters';
import { RunPane } from './RunPane';
import { ActionLink } from '../components/ActionLink';

/** What the export views ask of the application. */
export interface IJobActions {
  /** Open a file (a notebook) in the main area. */
  openPath: (path: string) => void;
  /** Show a folder in the file browser. */
  openFolder: (path: string) => void;
  /** Jobs, builds or executions changed: the lists that show them are stale. */
  changed: () => void;
}

export type JobPane = 'build' | 'run';

/**
 * The DVC-tracked data a job reads, each pinned to its version: the job pulls that
 * version from the remote when its folder lacks it.
 */
export function PinnedData(props: {
  pins: readonly JobDataPin[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  return (
    <ul className="jp-mlops-export-pins">
      {props.pins.map(pin => (
        <li key={pin.path}>
          <code>{pin.path}</code>{' '}
          <code title={pin.md5}>{pin.md5.slice(0, 8)}</code>
          {pin.size !== null && <> · {sizeText(pin.size)}</>}
          {pin.nfiles !== null && (
            <> · {trans._n('%1 file', '%1 files', pin.nfiles)}</>
          )}
          {' · '}
          {pin.remote_url ? (
            <span title={pin.remote_url}>
              {trans.__('pulled from %1 when missing', pin.remote_url)}
            </span>
          ) : (
            <span className="jp-mlops-Muted">
              {trans.__('no DVC remote: the job uses the copy it carries')}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

/** A job's parameters: name, type, default and help, from its schema. */
export function ParametersTable(props: {
  job: JobInfo;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const specs = parameterList(props.job.parameters);
  if (specs.length === 0) {
    return (
      <div className="jp-mlops-Muted">
        {trans.__(
          'No parameters: tag a cell "parameters" to give the job some.'
        )}
      </div>
    );
  }
  return (
    <table className="jp-mlops-export-params" data-testid="mlops-parameters">
      <thead>
        <tr>
          <th>{trans.__('Name')}</th>
          <th>{trans.__('Type')}</th>
          <th>{trans.__('Default')}</th>
          <th>{trans.__('Help')}</th>
        </tr>
      </thead>
      <tbody>
        {specs.map(spec => (
          <tr key={spec.name} data-parameter={spec.name}>
            <td>
              <code>{spec.name}</code>
            </td>
            <td>
              <code>{spec.typeText}</code>
            </td>
            <td>
              <code>{JSON.stringify(spec.default)}</code>
            </td>
            <td>{spec.help}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface IJobResultProps {
  client: MlopsClient;
  job: JobInfo;
  trans: TranslationBundle;
  actions: IJobActions;
  /** The pane open at first (the Build or Run action of the Jobs list). */
  initialPane?: JobPane | null;
  /** Start the build at once (with `initialPane` 'build'). */
  autoBuild?: boolean;
}

/** An exported job: its folder, parameters and warnings, and its Build and Run panes. */
export function JobResult(props: IJobResultProps): JSX.Element {
  const { client, job, trans, actions } = props;
  const [pane, setPane] = React.useState<JobPane | null>(
    props.initialPane ?? null
  );
  // Panes stay mounted once opened, so switching keeps a build's log and typed values.
  const [opened, setOpened] = React.useState<JobPane[]>(
    props.initialPane ? [props.initialPane] : []
  );
  const [build, setBuild] = React.useState<JobBuild | null>(job.build);
  const open = (next: JobPane) => {
    setPane(next);
    if (!opened.includes(next)) {
      setOpened([...opened, next]);
    }
  };
  const onBuilt = (built: JobBuild) => {
    setBuild(built);
    actions.changed();
  };
  return (
    <div className="jp-mlops-export-result" data-testid="mlops-job-result">
      <dl className="jp-mlops-export-facts">
        <dt>{trans.__('Job folder')}</dt>
        <dd>
          <ActionLink
            className="jp-mlops-Link jp-mlops-export-folder"
            title={trans.__('Show %1 in the file browser', job.path)}
            onActivate={() => actions.openFolder(job.path)}
          >
            <folderIcon.react tag="span" className="jp-mlops-export-icon" />
            {job.path}
          </ActionLink>
        </dd>
        {job.source && (
          <>
            <dt>{trans.__('Notebook')}</dt>
            <dd>
              <ActionLink
                className="jp-mlops-Link"
                onActivate={() => actions.openPath(job.source!)}
              >
                <notebookIcon.react
                  tag="span"
                  className="jp-mlops-export-icon"
                />
                {job.source}
              </ActionLink>
            </dd>
          </>
        )}
        <dt>{trans.__('Targets')}</dt>
        <dd className="jp-mlops-export-badges">
          {job.targets.map(target => (
            <span key={target} className="jp-mlops-export-badge">
              {target}
            </span>
          ))}
        </dd>
        {(job.data?.length ?? 0) > 0 && (
          <>
            <dt>{trans.__('Data')}</dt>
            <dd>
              <PinnedData pins={job.data!} trans={trans} />
            </dd>
          </>
        )}
        <dt>{trans.__('Image')}</dt>
        <dd>
          {build ? (
            <BuildSummary build={build} trans={trans} />
          ) : (
            <span className="jp-mlops-Muted">{trans.__('not built yet')}</span>
          )}
        </dd>
      </dl>
      {job.warnings.length > 0 && (
        <div className="jp-mlops-Warning" role="status">
          <ul className="jp-mlops-export-warnings">
            {jobWarnings(job, trans).map((warning, index) => (
              <li key={index}>{warning}</li>
            ))}
          </ul>
        </div>
      )}
      <h3 className="jp-mlops-export-heading">{trans.__('Parameters')}</h3>
      <ParametersTable job={job} trans={trans} />
      <div className="jp-mlops-export-tabs" role="tablist">
        <Button
          minimal
          role="tab"
          aria-selected={pane === 'build'}
          className={pane === 'build' ? 'jp-mod-active' : undefined}
          onClick={() => open('build')}
        >
          <buildIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Build image')}
        </Button>
        <Button
          minimal
          role="tab"
          aria-selected={pane === 'run'}
          className={pane === 'run' ? 'jp-mod-active' : undefined}
          onClick={() => open('run')}
        >
          <runIcon.react tag="span" className="jp-mlops-export-icon" />
          {trans.__('Run')}
        </Button>
      </div>
      {opened.includes('build') && (
        <div hidden={pane !== 'build'}>
          <BuildPane
            client={client}
            job={job}
            trans={trans}
            autoStart={props.autoBuild}
            onBuilt={onBuilt}
          />
        </div>
      )}
      {opened.includes('run') && (
        <div hidden={pane !== 'run'}>
          <RunPane
            client={client}
            job={job}
            built={build !== null}
            trans={trans}
            openPath={actions.openPath}
            onChanged={actions.changed}
          />
        </div>
      )}
    </div>
  );
}
