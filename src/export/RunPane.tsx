import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  HTMLSelect,
  InputGroup,
  runIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import { MlopsApiError, asApiError } from '../api/request';
import type { JobExecution, JobInfo } from '../api/types';
import { ErrorCard } from '../components/ErrorCard';
import { ExecutionView } from './ExecutionView';
import {
  IParameterSpec,
  collectValues,
  describeType,
  initialText,
  inputKind,
  parameterErrors,
  parameterSpecs
} from './parameters';

/** The input of one parameter, as its type asks. */
function ParameterInput(props: {
  spec: IParameterSpec;
  id: string;
  text: string;
  invalid: boolean;
  trans: TranslationBundle;
  onChange: (text: string) => void;
}): JSX.Element {
  const { spec, id, text, invalid, trans, onChange } = props;
  const kind = inputKind(spec.type);
  const describedBy = `${id}-note`;
  switch (kind) {
    case 'boolean':
      return (
        <input
          id={id}
          type="checkbox"
          checked={text === 'true'}
          aria-describedby={describedBy}
          onChange={event => onChange(event.target.checked ? 'true' : 'false')}
        />
      );
    case 'choice':
      return (
        <HTMLSelect
          id={id}
          value={text}
          aria-describedby={describedBy}
          onChange={event => onChange(event.target.value)}
        >
          {(spec.type.choices ?? []).map((choice, index) => (
            <option key={index} value={String(index)}>
              {typeof choice === 'string' ? choice : JSON.stringify(choice)}
            </option>
          ))}
        </HTMLSelect>
      );
    case 'json':
      return (
        <textarea
          id={id}
          className={`jp-mlops-export-json${invalid ? ' jp-mod-invalid' : ''}`}
          rows={Math.min(6, Math.max(1, text.split('\n').length))}
          spellCheck={false}
          value={text}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          placeholder={trans.__('JSON, e.g. null')}
          onChange={event => onChange(event.target.value)}
        />
      );
    default:
      return (
        <InputGroup
          id={id}
          type="text"
          inputMode={
            kind === 'integer'
              ? 'numeric'
              : kind === 'number'
                ? 'decimal'
                : undefined
          }
          className={invalid ? 'jp-mlops-export-invalid' : undefined}
          value={text}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onChange={event => onChange(event.target.value)}
        />
      );
  }
}

interface IRunFormProps {
  specs: IParameterSpec[];
  texts: Record<string, string>;
  errors: Record<string, string>;
  inContainer: boolean;
  canUseContainer: boolean;
  busy: boolean;
  hasRun: boolean;
  trans: TranslationBundle;
  onText: (name: string, text: string) => void;
  onInContainer: (value: boolean) => void;
  onSubmit: () => void;
}

/** A form made from the parameter schema: one typed input per parameter. */
export function RunForm(props: IRunFormProps): JSX.Element {
  const { specs, texts, errors, trans } = props;
  const prefix = React.useId();
  return (
    <form
      className="jp-mlops-export-runForm"
      noValidate
      onSubmit={event => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      {specs.length === 0 ? (
        <div className="jp-mlops-Muted">
          {trans.__(
            'The notebook has no parameters (tag a cell "parameters" to add some).'
          )}
        </div>
      ) : (
        <div className="jp-mlops-export-fields">
          {specs.map(spec => {
            const id = `${prefix}-${spec.name}`;
            const error = errors[spec.name];
            return (
              <div
                key={spec.name}
                className={`jp-mlops-export-field${error ? ' jp-mod-invalid' : ''}`}
                data-parameter={spec.name}
              >
                <label htmlFor={id}>
                  <span className="jp-mlops-export-paramName">{spec.name}</span>
                  <code className="jp-mlops-export-type">{spec.typeText}</code>
                </label>
                <ParameterInput
                  spec={spec}
                  id={id}
                  text={texts[spec.name] ?? initialText(spec)}
                  invalid={!!error}
                  trans={trans}
                  onChange={text => props.onText(spec.name, text)}
                />
                <div
                  id={`${id}-note`}
                  className={
                    error
                      ? 'jp-mlops-export-fieldError'
                      : 'jp-mlops-export-help'
                  }
                  role={error ? 'alert' : undefined}
                >
                  {error ??
                    (spec.help ||
                      (inputKind(spec.type) === 'json'
                        ? trans.__('JSON: %1', describeType(spec.type, trans))
                        : ''))}
                </div>
              </div>
            );
          })}
        </div>
      )}
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
    </form>
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
  const specs = React.useMemo(
    () => parameterSpecs(job.parameters),
    [job.parameters]
  );
  const [texts, setTexts] = React.useState<Record<string, string>>(() =>
    Object.fromEntries(specs.map(spec => [spec.name, initialText(spec)]))
  );
  const [errors, setErrors] = React.useState<Record<string, string>>({});
  const [failure, setFailure] = React.useState<MlopsApiError | null>(null);
  const [inContainer, setInContainer] = React.useState(false);
  const [busy, setBusy] = React.useState(false);
  const [execution, setExecution] = React.useState<JobExecution | null>(null);

  const submit = async () => {
    const collected = collectValues(specs, texts, trans);
    setErrors(collected.errors);
    setFailure(null);
    if (Object.keys(collected.errors).length) {
      return;
    }
    setBusy(true);
    try {
      const started = await client.runJob({
        job: job.path,
        parameters: collected.values,
        in_container: inContainer && props.built
      });
      setExecution(started);
      props.onChanged();
    } catch (reason) {
      const error = asApiError(reason);
      if (error.code === 'invalid_parameters' && error.parameters.length) {
        // Each problem beside its parameter; the others (a parameter the form does not
        // have) in the error card.
        const { fields, others } = parameterErrors(
          error.parameters,
          specs.map(s => s.name)
        );
        setErrors(fields);
        if (others.length) {
          setFailure(
            new MlopsApiError(others.join(' '), error.status, error.code)
          );
        }
      } else {
        setErrors({});
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="jp-mlops-export-pane" aria-label={trans.__('Run')}>
      <RunForm
        specs={specs}
        texts={texts}
        errors={errors}
        inContainer={inContainer}
        canUseContainer={props.built}
        busy={busy}
        hasRun={execution !== null}
        trans={trans}
        onText={(name, text) => {
          setTexts({ ...texts, [name]: text });
          if (errors[name]) {
            const rest = { ...errors };
            delete rest[name];
            setErrors(rest);
          }
        }}
        onInContainer={setInContainer}
        onSubmit={() => void submit()}
      />
      {failure && (
        <ErrorCard
          error={failure}
          trans={trans}
          onRetry={() => void submit()}
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
