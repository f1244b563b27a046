import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { StatusResponse } from '../api/types';
import { shortCommit } from '../format';
import { FRONTEND_VERSION } from '../version';
import { ErrorCard } from './ErrorCard';
import { MlopsApiError } from '../api/request';

interface IStatusViewProps {
  status: StatusResponse | null;
  error: MlopsApiError | null;
  loading: boolean;
  versionMismatch: boolean;
  trans: TranslationBundle;
  onRetry: () => void;
}

/** A health dot: green when a service answers, red when it does not. */
function Health(props: { ok: boolean; label: string }): JSX.Element {
  return (
    <span
      className={`jp-mlops-Health ${props.ok ? 'jp-mod-ok' : 'jp-mod-down'}`}
      role="img"
      title={props.label}
      aria-label={props.label}
    />
  );
}

function Row(props: {
  label: string;
  children: React.ReactNode;
  testid?: string;
}): JSX.Element {
  return (
    <div className="jp-mlops-StatusRow" data-testid={props.testid}>
      <div className="jp-mlops-StatusRow-label">{props.label}</div>
      <div className="jp-mlops-StatusRow-value">{props.children}</div>
    </div>
  );
}

/** Tracking store, project, container engine and versions, with their health. */
export function StatusView(props: IStatusViewProps): JSX.Element {
  const { status, error, loading, trans } = props;
  if (error) {
    return <ErrorCard error={error} trans={trans} onRetry={props.onRetry} />;
  }
  if (!status) {
    return (
      <div className="jp-mlops-Placeholder">
        {loading ? trans.__('Loading status…') : trans.__('No status yet.')}
      </div>
    );
  }
  const { tracking, project, container_engine: engine } = status;
  const kinds: Record<string, string> = {
    embedded: trans.__('embedded store'),
    server: trans.__('tracking server'),
    database: trans.__('database'),
    file: trans.__('file store'),
    other: trans.__('other')
  };
  return (
    <div className="jp-mlops-Status">
      {props.versionMismatch && (
        <div className="jp-mlops-Warning" role="alert">
          {trans.__(
            'The jupyter-mlops frontend (%1) and server extension (%2) differ. Reinstall jupyter-mlops and reload the page.',
            FRONTEND_VERSION,
            status.version
          )}
        </div>
      )}
      <Row label={trans.__('Tracking')} testid="mlops-status-tracking">
        <Health
          ok={tracking.reachable}
          label={
            tracking.reachable
              ? trans.__('answers')
              : trans.__('does not answer')
          }
        />
        <span className="jp-mlops-Kind">{kinds[tracking.kind]}</span>
        <code className="jp-mlops-Uri" title={tracking.uri}>
          {tracking.uri}
        </code>
        {tracking.error && (
          <div className="jp-mlops-StatusRow-error">{tracking.error}</div>
        )}
        {tracking.ui_url && (
          <a
            className="jp-mlops-Link"
            href={tracking.ui_url}
            target="_blank"
            rel="noopener noreferrer"
          >
            {trans.__('Open the MLflow UI')}
          </a>
        )}
      </Row>
      <Row label={trans.__('Project')} testid="mlops-status-project">
        <code className="jp-mlops-Uri" title={project.root}>
          {project.root}
        </code>
        <div className="jp-mlops-Badges">
          <span
            className={`jp-mlops-Badge ${project.git ? 'jp-mod-on' : 'jp-mod-off'}`}
          >
            {project.git
              ? trans.__(
                  'git %1 %2',
                  project.git_branch ?? trans.__('(detached)'),
                  shortCommit(project.git_commit)
                )
              : trans.__('no git')}
          </span>
          <span
            className={`jp-mlops-Badge ${project.dvc ? 'jp-mod-on' : 'jp-mod-off'}`}
          >
            {project.dvc ? trans.__('DVC') : trans.__('no DVC')}
          </span>
        </div>
      </Row>
      <Row label={trans.__('Containers')} testid="mlops-status-containers">
        <Health
          ok={engine.reachable}
          label={
            engine.reachable ? trans.__('answers') : trans.__('does not answer')
          }
        />
        {engine.reachable ? (
          <span>
            {engine.name} {engine.version}
          </span>
        ) : (
          <span className="jp-mlops-Muted" title={engine.error ?? ''}>
            {trans.__('No container engine at %1', engine.docker_host)}
          </span>
        )}
      </Row>
      <details className="jp-mlops-Versions">
        <summary>
          {trans.__(
            'jupyter-mlops %1 · Python %2',
            status.version,
            status.python
          )}
        </summary>
        <table>
          <tbody>
            {Object.entries(status.packages).map(([name, version]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>{version ?? trans.__('not installed')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
