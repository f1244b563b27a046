import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type {
  GateCondition,
  GateResult,
  ModelsClient,
  VersionSummary
} from '../api/models';
import { MlopsApiError, asApiError } from '../api/request';
import { ErrorCard } from './ErrorCard';
import { useRequest } from './useRequest';

/** Renders Markdown into a host element (JupyterLab's markdown renderer in the app). */
export type MarkdownRenderer = (host: HTMLElement, markdown: string) => void;

const RESULT_CLASS: Record<GateCondition['result'], string> = {
  passed: 'jp-mlops-mod-passed',
  failed: 'jp-mlops-mod-failed',
  cannot_evaluate: 'jp-mlops-mod-unknown'
};

/** Each gate condition with its result and why. */
export function GateConditions(props: {
  gate: GateResult;
  trans: TranslationBundle;
}): JSX.Element {
  const { gate, trans } = props;
  const words: Record<GateCondition['result'], string> = {
    passed: trans.__('passed'),
    failed: trans.__('failed'),
    cannot_evaluate: trans.__('cannot be evaluated')
  };
  return (
    <ul className="jp-mlops-GateConditions">
      {gate.conditions.map(condition => (
        <li
          key={condition.name}
          className={RESULT_CLASS[condition.result]}
          data-condition={condition.name}
        >
          <strong>{condition.title}</strong>{' '}
          <span className="jp-mlops-GateResult">{words[condition.result]}</span>
          <div className="jp-mlops-Muted">{condition.reason}</div>
        </li>
      ))}
    </ul>
  );
}

/**
 * Promote a version: the gate is evaluated first and each condition shown; promoting
 * through a refusing gate is an override, which needs a reason.
 */
export function PromotePanel(props: {
  client: ModelsClient;
  name: string;
  version: string;
  trans: TranslationBundle;
  onDone: () => void;
  onCancel: () => void;
}): JSX.Element {
  const { client, name, version, trans, onDone, onCancel } = props;
  const [alias, setAlias] = React.useState('champion');
  const [reason, setReason] = React.useState('');
  const [gate, setGate] = React.useState<GateResult | null>(null);
  const [error, setError] = React.useState<MlopsApiError | null>(null);
  const [busy, setBusy] = React.useState(false);

  const check = async () => {
    setBusy(true);
    setError(null);
    try {
      setGate(await client.gate(name, version, alias));
    } catch (reason) {
      setGate(null);
      setError(asApiError(reason));
    } finally {
      setBusy(false);
    }
  };
  const promote = async () => {
    if (!gate) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.promote(name, alias, {
        version,
        reason,
        force: !gate.passed
      });
      onDone();
    } catch (reason) {
      setError(asApiError(reason));
    } finally {
      setBusy(false);
    }
  };
  const override = gate !== null && !gate.passed;
  return (
    <div
      className="jp-mlops-PromotePanel"
      role="dialog"
      aria-label={trans.__('Promote %1 version %2', name, version)}
    >
      <h3>{trans.__('Promote %1 version %2', name, version)}</h3>
      <label>
        {trans.__('Alias')}
        <input
          className="jp-mod-styled"
          value={alias}
          onChange={event => {
            setAlias(event.target.value);
            setGate(null);
          }}
        />
      </label>
      <Button type="button" small disabled={busy || !alias} onClick={check}>
        {trans.__('Check the gate')}
      </Button>
      {gate && (
        <>
          <div
            className={
              gate.passed ? 'jp-mlops-mod-passed' : 'jp-mlops-mod-failed'
            }
            role="status"
          >
            {gate.passed
              ? trans.__('The gate passes.')
              : trans.__('The gate refuses: an override needs a reason.')}
          </div>
          <GateConditions gate={gate} trans={trans} />
        </>
      )}
      <label>
        {override ? trans.__('Reason (required)') : trans.__('Reason')}
        <textarea
          className="jp-mod-styled"
          value={reason}
          onChange={event => setReason(event.target.value)}
        />
      </label>
      {error && <ErrorCard error={error} trans={trans} />}
      <div className="jp-mlops-PromotePanel-actions">
        <Button
          type="button"
          small
          disabled={busy || !gate || (override && !reason.trim())}
          onClick={promote}
        >
          {override
            ? trans.__('Override and promote')
            : trans.__('Promote to @%1', alias)}
        </Button>
        <Button type="button" small minimal onClick={onCancel}>
          {trans.__('Cancel')}
        </Button>
      </div>
    </div>
  );
}

/** A version's model card, rendered, with a download. */
export function CardPane(props: {
  client: ModelsClient;
  name: string;
  version: string;
  trans: TranslationBundle;
  render: MarkdownRenderer;
  /** Called once the card is written (and logged on the version). */
  onWritten?: () => void;
}): JSX.Element {
  const { client, name, version, trans, render, onWritten } = props;
  const request = useRequest(
    () => client.card(name, version),
    [client, name, version]
  );
  const host = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    if (host.current && request.value !== null) {
      render(host.current, request.value);
    }
  }, [render, request.value]);
  const written = request.value !== null;
  React.useEffect(() => {
    if (written) {
      onWritten?.();
    }
    // Once per card: a new callback (each render of the parent) is not a new card.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [written]);
  const href = React.useMemo(
    () =>
      request.value === null
        ? null
        : `data:text/markdown;charset=utf-8,${encodeURIComponent(request.value)}`,
    [request.value]
  );
  if (request.error) {
    return (
      <ErrorCard error={request.error} trans={trans} onRetry={request.retry} />
    );
  }
  return (
    <div className="jp-mlops-ModelCard">
      {href && (
        <a
          className="jp-mlops-ModelCard-download"
          href={href}
          download={`${name}-v${version}-card.md`}
        >
          {trans.__('Download the card')}
        </a>
      )}
      {request.value === null && (
        <div className="jp-mlops-Muted">{trans.__('Writing the card…')}</div>
      )}
      <div ref={host} className="jp-mlops-ModelCard-body" />
    </div>
  );
}

function VersionRow(props: {
  version: VersionSummary;
  trans: TranslationBundle;
  onPromote: () => void;
  onCard: () => void;
  onDemote: (alias: string) => void;
  onLineage?: () => void;
}): JSX.Element {
  const { version, trans } = props;
  return (
    <tr data-version={version.version}>
      <td>v{version.version}</td>
      <td>
        {(version.aliases ?? []).map(alias => (
          <span key={alias} className="jp-mlops-AliasChip">
            @{alias}
            <button
              type="button"
              className="jp-mlops-AliasChip-remove"
              title={trans.__('Demote: remove @%1', alias)}
              aria-label={trans.__('Demote: remove @%1', alias)}
              onClick={() => props.onDemote(alias)}
            >
              ×
            </button>
          </span>
        ))}
      </td>
      <td>
        {version.created ? new Date(version.created).toLocaleString() : ''}
      </td>
      <td>{version.tags?.['jupyter_mlops.card'] ? '✓' : ''}</td>
      <td className="jp-mlops-VersionActions">
        <Button type="button" small minimal onClick={props.onPromote}>
          {trans.__('Promote…')}
        </Button>
        <Button type="button" small minimal onClick={props.onCard}>
          {trans.__('Card')}
        </Button>
        {props.onLineage && (
          <Button type="button" small minimal onClick={props.onLineage}>
            {trans.__('Lineage')}
          </Button>
        )}
      </td>
    </tr>
  );
}

/**
 * Registered models: pick one to see its versions and aliases; promote a version through
 * the gate, remove an alias, read a version's model card.
 */
export function ModelsView(props: {
  client: ModelsClient;
  trans: TranslationBundle;
  render: MarkdownRenderer;
  initial?: { name: string; version?: string };
  onLineage?: (name: string, version: string) => void;
}): JSX.Element {
  const { client, trans, render, onLineage } = props;
  const [selected, setSelected] = React.useState<string | null>(
    props.initial?.name ?? null
  );
  const [action, setAction] = React.useState<{
    kind: 'promote' | 'card';
    version: string;
  } | null>(
    props.initial?.version
      ? { kind: 'card', version: props.initial.version }
      : null
  );
  const [changes, setChanges] = React.useState(0);
  const [error, setError] = React.useState<MlopsApiError | null>(null);
  const models = useRequest(() => client.list(), [client], changes);
  const detail = useRequest(
    () => (selected ? client.show(selected) : Promise.resolve(null)),
    [client, selected],
    changes
  );
  const demote = async (alias: string) => {
    if (!selected) {
      return;
    }
    setError(null);
    try {
      await client.demote(selected, alias);
      setChanges(count => count + 1);
    } catch (reason) {
      setError(asApiError(reason));
    }
  };

  if (models.error) {
    return (
      <ErrorCard error={models.error} trans={trans} onRetry={models.retry} />
    );
  }
  return (
    <div className="jp-mlops-Models">
      <ul className="jp-mlops-ModelList" aria-label={trans.__('Models')}>
        {models.value?.models.length === 0 && (
          <li className="jp-mlops-Muted">
            {trans.__(
              'No registered model yet: call jupyter_mlops.log_model(model, name=...) in a %%track cell.'
            )}
          </li>
        )}
        {models.value?.models.map(model => (
          <li key={model.name}>
            <button
              type="button"
              className={
                model.name === selected
                  ? 'jp-mlops-ModelList-item jp-mod-selected'
                  : 'jp-mlops-ModelList-item'
              }
              onClick={() => {
                setSelected(model.name);
                setAction(null);
              }}
            >
              {model.name}
              {Object.entries(model.aliases ?? {}).map(([alias, version]) => (
                <span key={alias} className="jp-mlops-AliasChip">
                  @{alias} v{version}
                </span>
              ))}
            </button>
          </li>
        ))}
      </ul>
      <div className="jp-mlops-ModelDetail">
        {error && <ErrorCard error={error} trans={trans} />}
        {detail.error && (
          <ErrorCard
            error={detail.error}
            trans={trans}
            onRetry={detail.retry}
          />
        )}
        {selected && detail.value && (
          <>
            <h2>{detail.value.name}</h2>
            {detail.value.description && <p>{detail.value.description}</p>}
            <table className="jp-mlops-VersionTable">
              <thead>
                <tr>
                  <th>{trans.__('Version')}</th>
                  <th>{trans.__('Aliases')}</th>
                  <th>{trans.__('Created')}</th>
                  <th>{trans.__('Card')}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {detail.value.versions.map(version => (
                  <VersionRow
                    key={version.version}
                    version={version}
                    trans={trans}
                    onPromote={() =>
                      setAction({ kind: 'promote', version: version.version })
                    }
                    onCard={() =>
                      setAction({ kind: 'card', version: version.version })
                    }
                    onDemote={alias => void demote(alias)}
                    onLineage={
                      onLineage
                        ? () => onLineage(selected, version.version)
                        : undefined
                    }
                  />
                ))}
              </tbody>
            </table>
            {action?.kind === 'promote' && (
              <PromotePanel
                key={action.version}
                client={client}
                name={selected}
                version={action.version}
                trans={trans}
                onCancel={() => setAction(null)}
                onDone={() => {
                  setAction(null);
                  setChanges(count => count + 1);
                }}
              />
            )}
            {action?.kind === 'card' && (
              <CardPane
                key={action.version}
                client={client}
                name={selected}
                version={action.version}
                trans={trans}
                render={render}
                onWritten={() => setChanges(count => count + 1)}
              />
            )}
          </>
        )}
      </div>
    </div>
  );
}
