import { TranslationBundle } from '@jupyterlab/translation';
import { Button, checkIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { ExportTargetInfo, JobInfo } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { useRequest } from '../components/useRequest';
import { ExportForm } from './ExportForm';
import { BusyLine } from './Progress';
import { IJobActions, JobResult } from './JobResult';
import {
  ExportField,
  IExportValues,
  IFieldProblems,
  exportProblems,
  exportRequest,
  fieldProblems,
  initialExportValues,
  retryable,
  usableTargets
} from './options';

/** How long typing pauses before the export request is checked by the server (ms). */
export const VALIDATE_DELAY = 300;

const NO_PROBLEMS: IFieldProblems = { fields: {}, other: [] };

/** The form fields whose values differ between `a` and `b`. */
export function changedFields(
  a: IExportValues,
  b: IExportValues
): ExportField[] {
  const changed: ExportField[] = [];
  if (a.name !== b.name) {
    changed.push('name');
  }
  if (a.targets.join('\n') !== b.targets.join('\n')) {
    changed.push('targets');
  }
  for (const field of Object.keys(
    b.deployment
  ) as (keyof IExportValues['deployment'])[]) {
    if (a.deployment[field] !== b.deployment[field]) {
      changed.push(field);
    }
  }
  return changed;
}

interface IExportFlowProps {
  client: MlopsClient;
  /** The notebook, relative to the server's root. */
  notebook: string;
  trans: TranslationBundle;
  actions: IJobActions;
  /** Before exporting: save the notebook if it has unsaved changes. */
  prepare: () => Promise<void>;
  /** What the form starts with (the options last typed for this notebook). */
  initialValues?: IExportValues;
  /** The form's values changed (to remember them for the notebook). */
  onValuesChange?: (values: IExportValues) => void;
}

/**
 * The problems of request fields the form has no input for (none usually: the dialog
 * sends no such field), as one error for the error card; null when there are none.
 */
function otherProblems(found: IFieldProblems): MlopsApiError | null {
  if (!found.other.length) {
    return null;
  }
  return new MlopsApiError(
    found.other.map(p => p.message).join(' '),
    400,
    'invalid_export',
    [],
    found.other
  );
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

/** The export targets the server has (built in and plugins), or why it cannot say. */
async function listTargets(
  client: MlopsClient,
  trans: TranslationBundle
): Promise<ExportTargetInfo[]> {
  try {
    return (await client.exportTargets()).targets;
  } catch (reason) {
    const cause = asApiError(reason);
    throw new MlopsApiError(
      trans.__('The export targets cannot be listed: %1', cause.message),
      cause.status,
      cause.code
    );
  }
}

/** The export dialog's content: the form, the export under way, then the job. */
export function ExportFlow(props: IExportFlowProps): JSX.Element {
  const { client, notebook, trans } = props;
  const [values, setValues] = React.useState<IExportValues>(
    () => props.initialValues ?? initialExportValues(notebook)
  );
  const targets = useRequest(() => listTargets(client, trans), [client, trans]);
  // Once the server lists its targets, keep only the chosen ones it can use.
  React.useEffect(() => {
    if (targets.value !== null) {
      const available = targets.value;
      setValues(current => ({
        ...current,
        targets: usableTargets(current.targets, available)
      }));
    }
  }, [targets.value]);
  // The server's problems with the request as last checked; a field edited since has
  // its problem cleared at once (the next check says whether it still has one).
  const [checked, setChecked] = React.useState<IFieldProblems>(NO_PROBLEMS);
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [startedAt, setStartedAt] = React.useState<number | null>(null);
  const [job, setJob] = React.useState<JobInfo | null>(null);
  const [editing, setEditing] = React.useState(true);
  const formId = `jp-mlops-export-form-${React.useId().replace(/:/g, '')}`;
  const latest = React.useRef(0);
  const onValuesChange = React.useRef(props.onValuesChange);
  onValuesChange.current = props.onValuesChange;

  const change = (next: IExportValues) => {
    const edited = changedFields(values, next);
    setValues(next);
    onValuesChange.current?.(next);
    if (edited.length) {
      setChecked(current => {
        const fields = { ...current.fields };
        for (const field of edited) {
          delete fields[field];
        }
        return { ...current, fields };
      });
    }
  };

  /**
   * Ask the server for every problem of the request `current` makes; only the answer
   * to the latest question is shown. Rejects when the server cannot say (network...).
   */
  const check = React.useCallback(
    async (
      current: IExportValues,
      available: readonly ExportTargetInfo[]
    ): Promise<IFieldProblems> => {
      const asked = ++latest.current;
      let found: IFieldProblems;
      try {
        const answer = await client.validateExport(
          exportRequest(notebook, current, available)
        );
        found = fieldProblems(answer.problems);
      } catch (reason) {
        const error = asApiError(reason);
        if (!error.fields.length) {
          throw error;
        }
        found = fieldProblems(error.fields); // a path refused (403), for one
      }
      if (asked === latest.current) {
        setChecked(found);
      }
      return found;
    },
    [client, notebook]
  );

  // Checked as the person types (once typing pauses), and when the dialog opens.
  const exporting = startedAt !== null;
  React.useEffect(() => {
    const available = targets.value;
    if (available === null || exporting || !editing) {
      return;
    }
    const timer = window.setTimeout(() => {
      check(values, available).catch(() => {
        // The server cannot say now: Export asks again and shows why.
      });
    }, VALIDATE_DELAY);
    return () => window.clearTimeout(timer);
  }, [values, targets.value, exporting, editing, check]);

  const submit = async () => {
    const available = targets.value;
    if (available === null) {
      return; // the form waits for the targets (or shows why they are missing)
    }
    setFailure(null);
    if (Object.keys(exportProblems(values, available, trans)).length) {
      return; // shown beside their fields already
    }
    setStartedAt(Date.now());
    try {
      await props.prepare();
      const found = await check(values, available);
      if (Object.keys(found.fields).length || found.other.length) {
        setFailure(otherProblems(found));
        return;
      }
      const exported = await client.exportJob(
        exportRequest(notebook, values, available)
      );
      setJob(exported);
      setEditing(false);
      props.actions.changed();
    } catch (reason) {
      const error = asApiError(reason);
      if (error.fields.length) {
        const found = fieldProblems(error.fields);
        latest.current++;
        setChecked(found);
        setFailure(otherProblems(found));
      } else {
        setFailure(error);
      }
    } finally {
      setStartedAt(null);
    }
  };

  const local =
    targets.value === null ? {} : exportProblems(values, targets.value, trans);
  const errors: Partial<Record<ExportField, string>> = {
    ...checked.fields,
    ...local
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

  return (
    <div className="jp-mlops-export-flow">
      <ExportForm
        id={formId}
        notebook={notebook}
        values={values}
        errors={errors}
        disabled={exporting}
        targets={targets.value}
        targetsError={targets.error}
        onRetryTargets={targets.retry}
        trans={trans}
        onChange={change}
        onSubmit={() => void submit()}
      />
      {failure && (
        <ErrorCard
          error={failure}
          trans={trans}
          onRetry={retryable(failure) ? () => void submit() : undefined}
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
          disabled={exporting || targets.value === null}
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
