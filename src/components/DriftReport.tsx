import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { ErrorCard } from './ErrorCard';
import { useRequest } from './useRequest';

/** Where a drift check logs its verdicts and Evidently's report in a run. */
export const DRIFT_COLUMNS = 'drift/columns.json';
export const DRIFT_REPORT = 'drift/report.html';

/** One column of `drift/columns.json` (jupyter_mlops.drift's DriftResult.to_dict). */
export interface IDriftColumn {
  score: number;
  drifted: boolean;
  test: string;
  test_threshold: number | null;
  kind: string;
}

export interface IDriftResult {
  drifted: boolean;
  share: number;
  threshold: number;
  reference: string;
  current: string;
  columns: Record<string, IDriftColumn>;
}

/** The drift result in a run's artifact, or an error naming what is wrong with it. */
export function parseDrift(text: string): IDriftResult {
  const value = JSON.parse(text);
  if (
    !value ||
    typeof value.share !== 'number' ||
    typeof value.columns !== 'object' ||
    value.columns === null
  ) {
    throw new Error(`${DRIFT_COLUMNS} is not a drift result`);
  }
  return value as IDriftResult;
}

function score(value: number): string {
  return Math.abs(value) >= 0.001 || value === 0
    ? value.toFixed(3)
    : value.toExponential(1);
}

/** Evidently's report, in a sandboxed frame (its scripts run, in an origin of their own). */
function DriftReportFrame(props: {
  client: MlopsClient;
  runId: string;
  trans: TranslationBundle;
}) {
  const { client, runId, trans } = props;
  const report = useRequest(
    async () =>
      new Blob([await (await client.artifact(runId, DRIFT_REPORT)).text()], {
        type: 'text/html'
      }),
    [client, runId]
  );
  const [url, setUrl] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (!report.value) {
      return;
    }
    const objectUrl = URL.createObjectURL(report.value);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [report.value]);
  if (report.error) {
    return <ErrorCard error={report.error} trans={trans} />;
  }
  return url ? (
    <iframe
      className="jp-mlops-DriftFrame"
      title={trans.__('Drift report')}
      sandbox="allow-scripts"
      src={url}
    />
  ) : (
    <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>
  );
}

/** A run's drift check: the verdict, the per-column table and Evidently's report. */
export function DriftReport(props: {
  client: MlopsClient;
  runId: string;
  hasReport: boolean;
  trans: TranslationBundle;
}): JSX.Element {
  const { client, runId, hasReport, trans } = props;
  const result = useRequest(
    async () =>
      parseDrift(await (await client.artifact(runId, DRIFT_COLUMNS)).text()),
    [client, runId]
  );
  const [showReport, setShowReport] = React.useState(false);
  if (result.error) {
    return <ErrorCard error={result.error} trans={trans} />;
  }
  const drift = result.value;
  if (!drift) {
    return <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>;
  }
  return (
    <div className="jp-mlops-Drift">
      <p>
        <strong
          className={drift.drifted ? 'jp-mlops-Drifted' : 'jp-mlops-NotDrifted'}
        >
          {drift.drifted ? trans.__('Drifted') : trans.__('No drift')}
        </strong>{' '}
        {trans.__(
          '%1% of columns drifted (threshold %2%), %3 against %4',
          Math.round(drift.share * 100),
          Math.round(drift.threshold * 100),
          drift.current,
          drift.reference
        )}
      </p>
      <table className="jp-mlops-DriftTable">
        <thead>
          <tr>
            <th>{trans.__('Column')}</th>
            <th>{trans.__('Test')}</th>
            <th>{trans.__('Score')}</th>
            <th>{trans.__('Drifted')}</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(drift.columns).map(([name, column]) => (
            <tr
              key={name}
              className={column.drifted ? 'jp-mlops-Drifted' : undefined}
            >
              <td>{name}</td>
              <td>{column.test}</td>
              <td>{score(column.score)}</td>
              <td>{column.drifted ? trans.__('yes') : trans.__('no')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {hasReport &&
        (showReport ? (
          <DriftReportFrame client={client} runId={runId} trans={trans} />
        ) : (
          <Button onClick={() => setShowReport(true)}>
            {trans.__('Show the drift report')}
          </Button>
        ))}
    </div>
  );
}
