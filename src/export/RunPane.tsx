import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  FormComponent,
  IFormComponentProps,
  runIcon
} from '@jupyterlab/ui-components';
import { getDefaultRegistry } from '@rjsf/core';
import type {
  ErrorSchema,
  RegistryWidgetsType,
  Widget,
  WidgetProps
} from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobExecution, JobInfo } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { ExecutionView } from './ExecutionView';
import { retryable } from './options';
import {
  FormData,
  IRunForm,
  checkValues,
  errorWords,
  runForm,
  runValues,
  serverErrors,
  standingErrors
} from './runForm';

/**
 * rjsf's widget with a label for assistive technology: JupyterLab's field template shows
 * the parameter's name as a heading that no input refers to.
 */
function labelled(Base: Widget): Widget {
  const Labelled = (props: WidgetProps) => (
    <>
      <label htmlFor={props.id} className="jp-mlops-runForm-srOnly">
        {String(props.options.ariaLabel ?? props.label)}
      </label>
      <Base {...props} />
    </>
  );
  return Labelled;
}

const BASE_WIDGETS = getDefaultRegistry().widgets;
const WIDGETS: RegistryWidgetsType = {
  TextWidget: labelled(BASE_WIDGETS.TextWidget),
  SelectWidget: labelled(BASE_WIDGETS.SelectWidget),
  TextareaWidget: labelled(BASE_WIDGETS.TextareaWidget)
};

/** Each run form's own id prefix (two forms on a page must not share ids). */
let formCount = 0;

interface IRunFormProps {
  form: IRunForm;
  data: FormData;
  /** The server's problems, beside their fields. */
  extraErrors: ErrorSchema<FormData>;
  inContainer: boolean;
  canUseContainer: boolean;
  busy: boolean;
  hasRun: boolean;
  trans: TranslationBundle;
  onData: (data: FormData) => void;
  onInContainer: (value: boolean) => void;
  /** The form's values are valid: run with them. */
  onSubmit: (data: FormData) => void;
}

/**
 * The parameters form, generated from the job's JSON Schema by JupyterLab's rjsf form:
 * typed inputs, selects for choices, checkboxes for booleans, lists item by item, JSON
 * text for the rest; each problem beside its field.
 */
export function RunForm(props: IRunFormProps): JSX.Element {
  const { form, trans } = props;
  const [idPrefix] = React.useState(() => `jp-mlops-run${++formCount}`);
  // Checked as typed once a run was asked for (not while the form is first filled in).
  const [attempted, setAttempted] = React.useState(false);
  const empty = Object.keys(form.parameters).length === 0;
  return (
    <div className="jp-mlops-export-runForm">
      {empty && (
        <div className="jp-mlops-Muted">
          {trans.__(
            'The notebook has no parameters (tag a cell "parameters" to add some).'
          )}
        </div>
      )}
      <FormComponent
        className="jp-mlops-runForm"
        idPrefix={idPrefix}
        schema={form.schema}
        uiSchema={form.uiSchema as IFormComponentProps['uiSchema']}
        formData={props.data as IFormComponentProps['formData']}
        formContext={{ defaultFormData: form.defaults }}
        validator={validator as IFormComponentProps['validator']}
        widgets={WIDGETS}
        customValidate={(data, errors) =>
          checkValues(form, data as FormData, errors, trans)
        }
        transformErrors={errors => errorWords(errors, trans)}
        extraErrors={props.extraErrors}
        liveValidate={attempted}
        noHtml5Validate
        showErrorList={false}
        // A list's item buttons as words: JupyterLab's icon buttons have no
        // accessible name.
        buttonStyle="text"
        onChange={event => props.onData(event.formData as FormData)}
        onError={() => setAttempted(true)}
        onSubmit={event => {
          setAttempted(true);
          props.onSubmit(event.formData as FormData);
        }}
      >
        <div className="jp-mlops-export-row">
          <label
            className="jp-mlops-export-check"
            title={
              props.canUseContainer
                ? trans.__('Run in the image built from the job folder')
                : trans.__('Build the image first')
            }
          >
            <input
              type="checkbox"
              checked={props.inContainer && props.canUseContainer}
              disabled={!props.canUseContainer}
              onChange={event => props.onInContainer(event.target.checked)}
            />
            {trans.__('In the container')}
          </label>
          <Button
            type="submit"
            className="jp-mlops-export-primary"
            disabled={props.busy}
          >
            <runIcon.react tag="span" className="jp-mlops-export-icon" />
            {props.busy
              ? trans.__('Starting…')
              : props.hasRun
                ? trans.__('Run again')
                : trans.__('Run')}
          </Button>
        </div>
      </FormComponent>
    </div>
  );
}

interface IRunPaneProps {
  client: MlopsClient;
  job: JobInfo;
  /** Whether an image was built (in the job list, or in this dialog). */
  built: boolean;
  trans: TranslationBundle;
  openPath: (path: string) => void;
  /** An execution started or ended: lists that show executions are stale. */
  onChanged: () => void;
}

/** Run a job with parameters typed in, then follow the run. */
export function RunPane(props: IRunPaneProps): JSX.Element {
  const { client, job, trans } = props;
  const form = React.useMemo(
    () => runForm(job.parameters, trans),
    [job.parameters, trans]
  );
  const [data, setData] = React.useState<FormData>(() => form.defaults);
  // The server's problems with what was last sent, and what was sent.
  const [extraErrors, setExtraErrors] = React.useState<ErrorSchema<FormData>>(
    {}
  );
  const [sent, setSent] = React.useState<FormData>({});
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [inContainer, setInContainer] = React.useState(false);
  const [busy, setBusy] = React.useState(false);
  const [execution, setExecution] = React.useState<JobExecution | null>(null);
  // Another job, or the same one exported again: the form starts from its defaults.
  React.useEffect(() => {
    setData(form.defaults);
    setExtraErrors({});
  }, [form]);

  const run = async (values: FormData) => {
    setSent(values);
    setExtraErrors({});
    setFailure(null);
    setBusy(true);
    try {
      const started = await client.runJob({
        job: job.path,
        parameters: runValues(form, values),
        in_container: inContainer && props.built
      });
      setExecution(started);
      props.onChanged();
    } catch (reason) {
      const error = asApiError(reason);
      // Each problem beside its parameter; the others (a parameter the form does not
      // have, another field) in the error card.
      const { fields, others } = serverErrors(error, form);
      setExtraErrors(fields);
      if (Object.keys(fields).length === 0) {
        setFailure(error);
      } else if (others.length) {
        setFailure(
          new MlopsApiError(others.join(' '), error.status, error.code)
        );
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="jp-mlops-export-pane" aria-label={trans.__('Run')}>
      <RunForm
        form={form}
        data={data}
        extraErrors={extraErrors}
        inContainer={inContainer}
        canUseContainer={props.built}
        busy={busy}
        hasRun={execution !== null}
        trans={trans}
        onData={changed => {
          setData(changed);
          setExtraErrors(standingErrors(extraErrors, sent, changed));
        }}
        onInContainer={setInContainer}
        onSubmit={values => void run(values)}
      />
      {failure && (
        <ErrorCard
          error={failure}
          trans={trans}
          onRetry={retryable(failure) ? () => void run(sent) : undefined}
        />
      )}
      {execution && (
        <ExecutionView
          client={client}
          execution={execution}
          trans={trans}
          openPath={props.openPath}
          onFinished={() => props.onChanged()}
        />
      )}
    </section>
  );
}
