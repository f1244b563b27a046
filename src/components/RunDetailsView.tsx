import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { DataClient } from '../api/data';
import type {
  ArtifactList,
  MetricHistory,
  RunDetails,
  RunSummary
} from '../api/types';
import { shortCommit } from '../format';
import { Chart } from './Chart';
import { RunDataRestore } from './DataView';
import { DRIFT_COLUMNS, DRIFT_REPORT, DriftReport } from './DriftReport';
import { ErrorCard } from './ErrorCard';
import { durationText } from './RunsView';
import { ActionLink } from './ActionLink';
import { useRequest } from './useRequest';

/** What the details view can ask of the application. */
export interface IRunActions {
  openNotebook: (details: RunDetails) => void;
  /** Open a file below the server's root (a job's output notebook). */
  openOutput?: (path: string) => void;
  /** Show another run's details (a run of a job's cell). */
  openRun?: (runId: string) => void;
  rename: (details: RunDetails) => Promise<void>;
  addTag: (details: RunDetails) => Promise<void>;
  remove: (details: RunDetails) => Promise<void>;
}

interface IRunDetailsProps {
  client: MlopsClient;
  runId: string;
  trans: TranslationBundle;
  actions: IRunActions;
  /** Bumped by the widget to reload after an action. */
  version: number;
}

function KeyValues(props: { values: Record<string, string | number> }) {
  const entries = Object.entries(props.values);
  if (entries.length === 0) {
    return <div className="jp-mlops-Muted">—</div>;
  }
  return (
    <table className="jp-mlops-KeyValues">
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <td>{key}</td>
            <td>
              <code>{String(value)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A blob as an object URL, revoked when the blob changes or the view goes. */
function useObjectUrl(blob: Blob | null): string | null {
  const [url, setUrl] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (blob === null) {
      return;
    }
    const objectUrl = URL.createObjectURL(blob);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [blob]);
  return url;
}

/** An image artifact, fetched with the page's credentials. */
function ArtifactImage(props: {
  client: MlopsClient;
  runId: string;
  path: string;
}) {
  const { client, runId, path } = props;
  const image = useRequest(
    () => client.artifact(runId, path),
    [client, runId, path]
  );
  const url = useObjectUrl(image.value);
  return url ? (
    <figure className="jp-mlops-Figure">
      <img src={url} alt={path} />
      <figcaption>{path}</figcaption>
    </figure>
  ) : (
    <div className="jp-mlops-Muted">{path}</div>
  );
}

/** The start of a text artifact, fetched when first shown. */
function ArtifactTextContent(props: {
  client: MlopsClient;
  runId: string;
  path: string;
  trans: TranslationBundle;
}) {
  const { client, runId, path } = props;
  const text = useRequest(
    async () =>
      (await (await client.artifact(runId, path)).text()).slice(
        0,
        PREVIEW_CHARS
      ),
    [client, runId, path]
  );
  return <>{text.error?.message ?? text.value ?? props.trans.__('Loading…')}</>;
}

/** A text artifact (source, logs, JSON, diffs) shown on demand. */
function ArtifactText(props: {
  client: MlopsClient;
  runId: string;
  path: string;
  trans: TranslationBundle;
}) {
  // Fetched when first opened, and kept when closed.
  const [opened, setOpened] = React.useState(false);
  return (
    <details
      className="jp-mlops-TextArtifact"
      onToggle={event => {
        if ((event.target as HTMLDetailsElement).open) {
          setOpened(true);
        }
      }}
    >
      <summary>{props.path}</summary>
      <pre className="jp-mlops-Source">
        {opened ? (
          <ArtifactTextContent {...props} />
        ) : (
          props.trans.__('Loading…')
        )}
      </pre>
    </details>
  );
}

/** The filter that finds the runs nested in run `runId` (a job's cells). */
export function childRunsFilter(runId: string): string {
  return `tags.\`mlflow.parentRunId\` = '${runId.replace(/[^0-9a-zA-Z]/g, '')}'`;
}

/** A run's metrics as the details list them: ours (duration) left out. */
export function shownMetrics(run: RunSummary): [string, string][] {
  return Object.entries(run.metrics)
    .filter(([key]) => !key.startsWith('jupyter_mlops.'))
    .map(([key, value]) => [
      key,
      value === null ? 'NaN' : Number(value).toPrecision(4)
    ]);
}

/** The runs a job's tracked cells made, with their metrics. */
function JobCellRuns(props: {
  client: MlopsClient;
  run: RunSummary;
  trans: TranslationBundle;
  openRun?: (runId: string) => void;
}): JSX.Element | null {
  const { client, run, trans } = props;
  const page = useRequest(
    () =>
      client.runs({
        experiment_id: run.experiment_id,
        filter: childRunsFilter(run.run_id),
        order_by: 'attributes.start_time ASC',
        max_results: 200
      }),
    [client, run.experiment_id, run.run_id],
    run.end_time // asked again when the job's run ends
  );
  const error = page.error?.message ?? null;
  const children = page.value?.runs ?? null;
  return (
    <section className="jp-mlops-JobCellRuns">
      <h3>{trans.__('Runs of its tracked cells')}</h3>
      {error ? (
        <div className="jp-mlops-StatusRow-error">{error}</div>
      ) : children === null ? (
        <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>
      ) : children.length === 0 ? (
        <div className="jp-mlops-Muted">
          {trans.__('No tracked cell ran in this job (yet).')}
        </div>
      ) : (
        <table className="jp-mlops-KeyValues">
          <tbody>
            {children.map(child => (
              <tr key={child.run_id} data-run-id={child.run_id}>
                <td>
                  {props.openRun ? (
                    <ActionLink
                      onActivate={() => props.openRun?.(child.run_id)}
                    >
                      {child.run_name}
                    </ActionLink>
                  ) : (
                    child.run_name
                  )}
                </td>
                <td>
                  <span
                    className={`jp-mlops-Status jp-mod-${child.status.toLowerCase()}`}
                  >
                    {child.status}
                  </span>
                </td>
                <td>
                  {shownMetrics(child).map(([key, value]) => (
                    <span
                      key={key}
                      className="jp-mlops-JobCellRuns-metric"
                      style={{ marginRight: '0.75em' }}
                    >
                      {key} <code>{value}</code>
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const PREVIEW_CHARS = 100000;
const TEXT_ARTIFACT = /\.(txt|log|py|json|ya?ml|diff|md|csv|cfg|ini|toml)$/i;

async function download(client: MlopsClient, runId: string, path: string) {
  const blob = await client.artifact(runId, path);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = path.split('/').pop() || 'artifact';
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

/** What the details view shows of a run: the run, its metric histories, its artifacts. */
async function loadRun(
  client: MlopsClient,
  runId: string
): Promise<{
  details: RunDetails;
  histories: MetricHistory[];
  artifacts: string[];
}> {
  const details = await client.run(runId);
  const keys = Object.keys(details.run.metrics).filter(
    k => !k.startsWith('jupyter_mlops.')
  );
  const [histories, artifacts] = await Promise.all([
    Promise.all(keys.slice(0, 12).map(k => client.metricHistory(runId, k))),
    listArtifacts(client, runId)
  ]);
  return { details, histories, artifacts };
}

/** Everything about one run: parameters, metric charts, artifacts, source, lineage. */
export function RunDetailsView(props: IRunDetailsProps): JSX.Element {
  const { client, runId, trans, actions } = props;
  const loaded = useRequest(
    () => loadRun(client, runId),
    [client, runId],
    props.version // the widget bumps it to show an edit
  );
  const dataClient = React.useMemo(
    () => new DataClient(client.serverSettings),
    [client]
  );

  if (loaded.error) {
    return (
      <ErrorCard error={loaded.error} trans={trans} onRetry={loaded.retry} />
    );
  }
  if (!loaded.value) {
    return (
      <div className="jp-mlops-Placeholder">{trans.__('Loading the run…')}</div>
    );
  }
  const { details, histories, artifacts } = loaded.value;
  const run = details.run;
  // A chart needs a history: values at two steps at least (a metric logged again at the
  // same step, as a job's run gets its cells' final values, is one value).
  const stepped = histories.filter(
    h => new Set(h.points.map(p => p.step)).size > 1
  );
  const single = Object.fromEntries(
    Object.entries(run.metrics).map(([k, v]) => [
      k,
      v === null ? 'NaN' : Number(v).toPrecision(6)
    ])
  );
  const images = artifacts.filter(p => /\.(png|jpe?g|svg|gif)$/i.test(p));
  const lineage = details.lineage;
  return (
    <div className="jp-mlops-RunDetails">
      <header className="jp-mlops-RunDetails-header">
        <h2>{run.run_name}</h2>
        <span className={`jp-mlops-Status jp-mod-${run.status.toLowerCase()}`}>
          {run.status}
        </span>
        <span className="jp-mlops-Muted">
          {run.start_time ? new Date(run.start_time).toLocaleString() : ''} ·{' '}
          {durationText(run.duration_ms)} · {run.source} ·{' '}
          <code>{run.run_id}</code>
        </span>
        <div className="jp-mlops-RunDetails-actions">
          {run.source === 'job' ? (
            details.job_output_path && actions.openOutput ? (
              <Button
                small
                onClick={() => actions.openOutput?.(details.job_output_path!)}
              >
                {trans.__('Open the output notebook')}
              </Button>
            ) : details.job_output ? (
              <span className="jp-mlops-Muted">
                {trans.__('Output notebook:')} <code>{details.job_output}</code>
              </span>
            ) : null
          ) : (
            run.notebook_path && (
              <Button small onClick={() => actions.openNotebook(details)}>
                {trans.__('Open the notebook at this cell')}
              </Button>
            )
          )}
          {details.mlflow_ui_url && (
            <a
              className="jp-mlops-Link"
              href={details.mlflow_ui_url}
              target="_blank"
              rel="noopener noreferrer"
            >
              {trans.__('Open in the MLflow UI')}
            </a>
          )}
          <Button minimal small onClick={() => void actions.rename(details)}>
            {trans.__('Rename')}
          </Button>
          <Button minimal small onClick={() => void actions.addTag(details)}>
            {trans.__('Add tag')}
          </Button>
          <Button minimal small onClick={() => void actions.remove(details)}>
            {trans.__('Delete')}
          </Button>
        </div>
        {details.error && (
          <div className="jp-mlops-StatusRow-error">{details.error}</div>
        )}
      </header>
      <section>
        <h3>{trans.__('Metrics')}</h3>
        {stepped.map(h => (
          <div key={h.key} className="jp-mlops-MetricChart">
            <div className="jp-mlops-MetricChart-title">{h.key}</div>
            <Chart
              series={[
                { label: h.key, points: h.points.map(p => [p.step, p.value]) }
              ]}
              xLabel={trans.__('step')}
            />
          </div>
        ))}
        <KeyValues values={single} />
      </section>
      {run.source === 'job' && (
        <JobCellRuns
          client={client}
          run={run}
          trans={trans}
          openRun={actions.openRun}
        />
      )}
      <section>
        <h3>{trans.__('Parameters')}</h3>
        <KeyValues values={run.params} />
      </section>
      {images.length > 0 && (
        <section>
          <h3>{trans.__('Figures')}</h3>
          <div className="jp-mlops-Figures">
            {images.map(path => (
              <ArtifactImage
                key={path}
                client={client}
                runId={runId}
                path={path}
              />
            ))}
          </div>
        </section>
      )}
      {details.cell_source && (
        <section>
          <h3>{trans.__('Cell source')}</h3>
          <pre className="jp-mlops-Source">{details.cell_source}</pre>
        </section>
      )}
      <section>
        <h3>{trans.__('Lineage')}</h3>
        <KeyValues
          values={{
            [trans.__('git commit')]: lineage.git_commit
              ? `${shortCommit(lineage.git_commit)}${lineage.git_dirty ? trans.__(' (dirty)') : ''}`
              : '—',
            [trans.__('git branch')]: lineage.git_branch ?? '—',
            [trans.__('Python')]: lineage.python ?? '—',
            ...Object.fromEntries(
              Object.entries(lineage.data).map(([path, version]) => [
                trans.__('data %1', path),
                `${version.kind}:${version.hash.slice(0, 12)}`
              ])
            )
          }}
        />
        <RunDataRestore
          key={runId}
          client={dataClient}
          runId={runId}
          trans={trans}
        />
      </section>
      <section>
        <h3>{trans.__('Tags')}</h3>
        <KeyValues values={details.all_tags} />
      </section>
      {artifacts.includes(DRIFT_COLUMNS) && (
        <section>
          <h3>{trans.__('Drift')}</h3>
          <DriftReport
            client={client}
            runId={runId}
            hasReport={artifacts.includes(DRIFT_REPORT)}
            trans={trans}
          />
        </section>
      )}
      {artifacts.some(p => TEXT_ARTIFACT.test(p)) && (
        <section>
          <h3>{trans.__('Text artifacts')}</h3>
          {artifacts
            .filter(p => TEXT_ARTIFACT.test(p))
            .map(path => (
              <ArtifactText
                key={path}
                client={client}
                runId={runId}
                path={path}
                trans={trans}
              />
            ))}
        </section>
      )}
      <section>
        <h3>{trans.__('Artifacts')}</h3>
        <ul className="jp-mlops-Artifacts">
          {artifacts.map(path => (
            <li key={path}>
              <ActionLink onActivate={() => void download(client, runId, path)}>
                {path}
              </ActionLink>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** Every artifact file of a run, two folder levels deep at most. */
async function listArtifacts(
  client: MlopsClient,
  runId: string
): Promise<string[]> {
  const files: string[] = [];
  const walk = async (listing: ArtifactList, depth: number) => {
    for (const entry of listing.entries) {
      if (!entry.is_dir) {
        files.push(entry.path);
      } else if (depth < 2) {
        await walk(await client.artifacts(runId, entry.path), depth + 1);
      }
    }
  };
  await walk(await client.artifacts(runId), 0);
  return files;
}
