import { TranslationBundle } from '@jupyterlab/translation';
import { Button, checkIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { ExportTargetInfo, JobInfo } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { ExportForm } from './ExportForm';
import { BusyLine } from './Progress';
import { IJobActions, JobResult } from './JobResult';
import {
  ExportField,
  IExportValues,
  exportFieldErrors,
  exportProblems,
  exportRequest,
  initialExportValues,
  usableTargets
} from './options';

interface IExportFlowProps {
  client: MlopsClient;
  /** The notebook, relative to the server's root. */
  notebook: string;
  trans: TranslationBundle;
  actions: IJobActions;
  /** Before exporting: save the notebook if it has unsaved changes. */
  prepare: () => Promise<void>;
}

/** Seconds since `since`, ticking while shown. */
function Elapsed(props: { since: number }): JSX.Element {
  const [now, setNow] = React.useState(Date.now());
  React.useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  return <>{Math.max(0, Math.round((now - props.since) / 1000))} s</>;
}

/**
 * The export targets the server has (built in and plugins): null while they load, or an
 * error; `retry` asks again.
 */
function useExportTargets(
  client: MlopsClient,
  trans: TranslationBundle,
  onLoaded: (targets: ExportTargetInfo[]) => void
): {
  targets: ExportTargetInfo[] | null;
  error: MlopsApiError | null;
  retry: () => void;
} {
  const [targets, setTargets] = React.useState<ExportTargetInfo[] | null>(null);
  const [error, setError] = React.useState<MlopsApiError | null>(null);
  const [attempt, setAttempt] = React.useState(0);
  const loaded = React.useRef(onLoaded);
  loaded.current = onLoaded;
  React.useEffect(() => {
    let current = true;
    setTargets(null);
    setError(null);
    client.exportTargets().then(
      list => {
        if (current) {
          setTargets(list.targets);
          loaded.current(list.targets);
        }
      },
      reason => {
        if (current) {
          const cause = asApiError(reason);
          setError(
            new MlopsApiError(
              trans.__(
                'The export targets cannot be listed: %1',
                cause.message
              ),
              cause.status,
              cause.code
            )
          );
        }
      }
    );
    return () => {
      current = false;
    };
  }, [client, trans, attempt]);
  return { targets, error, retry: () => setAttempt(attempt + 1) };
}

/** The export dialog's content: the form, the export under way, then the job. */
export function ExportFlow(props: IExportFlowProps): JSX.Element {
  const { client, notebook, trans } = props;
  const [values, setValues] = React.useState<IExportValues>(() =>
    initialExportValues(notebook)
  );
  // Once the server lists its targets, keep only the chosen ones it can use.
  const targets = useExportTargets(client, trans, available =>
    setValues(current => ({
      ...current,
      targets: usableTargets(current.targets, available)
    }))
  );
  const [errors, setErrors] = React.useState<
    Partial<Record<ExportField, string>>
  >({});
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [startedAt, setStartedAt] = React.useState<number | null>(null);
  const [job, setJob] = React.useState<JobInfo | null>(null);
  const [editing, setEditing] = React.useState(true);
  const formId = `jp-mlops-export-form-${React.useId().replace(/:/g, '')}`;

  const submit = async () => {
    const available = targets.targets;
    if (available === null) {
      return; // the form waits for the targets (or shows why they are missing)
    }
    const problems = exportProblems(values, available, trans);
    setErrors(problems);
    setFailure(null);
    if (Object.keys(problems).length) {
      return;
    }
    setStartedAt(Date.now());
    try {
      await props.prepare();
      const exported = await client.exportJob(
        exportRequest(notebook, values, available)
      );
      setJob(exported);
      setEditing(false);
      props.actions.changed();
    } catch (reason) {
      const error = asApiError(reason);
      setErrors(exportFieldErrors(error.message));
      setFailure(error);
    } finally {
      setStartedAt(null);
    }
  };

  if (job && !editing) {
    return (
      <div className="jp-mlops-export-flow">
        <div className="jp-mlops-export-done" role="status">
          <checkIcon.react tag="span" className="jp-mlops-export-icon" />
          <span>
            {trans.__('Exported %1 as the job "%2".', notebook, job.name)}
          </span>
          <Button minimal small onClick={() => setEditing(true)}>
            {trans.__('Change the export options')}
          </Button>
        </div>
        <JobResult
          key={`${job.path}@${job.exported_at}`}
          client={client}
          job={job}
          trans={trans}
          actions={props.actions}
        />
      </div>
    );
  }

  const exporting = startedAt !== null;
  return (
    <div className="jp-mlops-export-flow">
      <ExportForm
        id={formId}
        notebook={notebook}
        values={values}
        errors={errors}
        disabled={exporting}
        targets={targets.targets}
        targetsError={targets.error}
        onRetryTargets={targets.retry}
        trans={trans}
        onChange={setValues}
        onSubmit={() => void submit()}
      />
      {failure && (
        <ErrorCard
          error={failure}
          trans={trans}
          onRetry={() => void submit()}
        />
      )}
      {exporting && (
        <BusyLine label={trans.__('Export progress')}>
          {trans.__(
            'Exporting: reading the parameters cell, pinning the kernel’s packages, writing the targets…'
          )}{' '}
          <Elapsed since={startedAt} />
        </BusyLine>
      )}
      <div className="jp-mlops-export-actions">
        {job && (
          <Button minimal onClick={() => setEditing(false)}>
            {trans.__('Back to the job')}
          </Button>
        )}
        <Button
          type="submit"
          form={formId}
          className="jp-mlops-export-primary"
          disabled={exporting || targets.targets === null}
        >
          {exporting
            ? trans.__('Exporting…')
            : job
              ? trans.__('Export again')
              : trans.__('Export')}
        </Button>
      </div>
    </div>
  );
}
