/**
 * The run form of a job, made from its parameter JSON Schema for rjsf (drawn by
 * JupyterLab's `FormComponent`, checked by ajv): which parameters rjsf types natively and
 * which are typed as JSON text, the values a run sends, and where the server's refusals
 * go. No type system of our own: the schema says what is valid, ajv checks it here and
 * the server again before a kernel starts.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import type {
  ErrorSchema,
  FormValidation,
  RJSFSchema,
  RJSFValidationError,
  UiSchema
} from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';

import type { FieldError, ParameterError } from '../api/types';
import { EXTENSION, isRecord, jsonTypes, parameterList } from './parameters';

export type FormData = Record<string, unknown>;

/** A job's parameters as an rjsf form. */
export interface IRunForm {
  /** The form's schema: the job's, with JSON-valued parameters as text. */
  schema: RJSFSchema;
  uiSchema: UiSchema;
  /** The form's first data: the defaults (as JSON text for a JSON field). */
  defaults: FormData;
  /** Each parameter's schema as the job wrote it, and its default. */
  parameters: Record<string, { schema: RJSFSchema; default: unknown }>;
  /** The parameters typed as JSON text. */
  json: string[];
}

const SCALARS = ['integer', 'number', 'string', 'boolean'];

/** The one non-null JSON type a schema allows, or null (any, or several). */
function singleType(schema: Record<string, unknown>): string | null {
  const types = jsonTypes(schema).filter(t => t !== 'null');
  return types.length === 1 ? types[0] : null;
}

/**
 * Whether rjsf's own fields type this parameter: scalars (None-able numbers and strings
 * too: an emptied input is None) and lists of non-null scalars. Everything else (dicts,
 * None-able lists and booleans, untyped values) is typed as JSON text.
 */
export function isNative(schema: Record<string, unknown>): boolean {
  const type = singleType(schema);
  const nullable = jsonTypes(schema).includes('null');
  if (type === 'integer' || type === 'number' || type === 'string') {
    return true;
  }
  if (type === 'boolean' || type === 'array') {
    if (nullable) {
      return false;
    }
    if (type === 'boolean') {
      return true;
    }
    const items = schema.items;
    return (
      isRecord(items) &&
      !jsonTypes(items).includes('null') &&
      SCALARS.includes(singleType(items) ?? '')
    );
  }
  return false;
}

/** The form for a job's parameter schema (`JobInfo.parameters`). */
export function runForm(
  jobSchema: unknown,
  trans: TranslationBundle
): IRunForm {
  const properties: Record<string, RJSFSchema> = {};
  const uiSchema: UiSchema = {};
  const defaults: FormData = {};
  const parameters: IRunForm['parameters'] = {};
  const json: string[] = [];
  for (const parameter of parameterList(jobSchema)) {
    const { name, help, typeText } = parameter;
    const own = { ...parameter.schema };
    delete own[EXTENSION];
    parameters[name] = { schema: own, default: parameter.default };
    const title = `${name}: ${typeText}`;
    const options = { ariaLabel: name };
    if (isNative(own)) {
      properties[name] = { ...own, title };
      defaults[name] = parameter.default;
      const nullable = jsonTypes(own).includes('null');
      const isString = singleType(own) === 'string';
      uiSchema[name] = {
        'ui:options': options,
        ...(nullable
          ? { 'ui:emptyValue': null, 'ui:placeholder': 'None' }
          : isString
            ? { 'ui:emptyValue': '' }
            : {}),
        ...(singleType(own) === 'array'
          ? {
              items: {
                'ui:label': false,
                'ui:options': { ariaLabel: trans.__('%1 item', name) },
                ...(isRecord(own.items) && singleType(own.items) === 'string'
                  ? { 'ui:emptyValue': '' }
                  : {})
              }
            }
          : {})
      };
      if (Array.isArray(own.enum) && own.enum.includes(null)) {
        uiSchema[name]['ui:enumNames'] = own.enum.map(v =>
          v === null ? 'None' : String(v)
        );
      }
    } else {
      json.push(name);
      const text = JSON.stringify(parameter.default ?? null);
      properties[name] = {
        type: 'string',
        title,
        description: [help, trans.__('JSON, with null for None')]
          .filter(Boolean)
          .join(' · ')
      };
      defaults[name] = text;
      uiSchema[name] = {
        'ui:widget': 'textarea',
        'ui:emptyValue': '',
        'ui:options': {
          ...options,
          rows: Math.min(6, Math.max(1, Math.ceil(text.length / 60)))
        }
      };
    }
  }
  return {
    schema: { type: 'object', properties },
    uiSchema,
    defaults,
    parameters,
    json
  };
}

/** The value of a parameter in the form's data (a JSON field's text parsed). */
function valueOf(form: IRunForm, data: FormData, name: string): unknown {
  const value = data[name];
  return form.json.includes(name) ? JSON.parse(String(value)) : value;
}

/**
 * The values a run sends: the parameters changed from their defaults only (the job's own
 * defaults apply to the others, exactly as the notebook wrote them). Call it on data the
 * form has validated.
 */
export function runValues(form: IRunForm, data: FormData): FormData {
  const values: FormData = {};
  for (const [name, { default: initial }] of Object.entries(form.parameters)) {
    const value = valueOf(form, data, name);
    if (JSON.stringify(value) !== JSON.stringify(initial)) {
      values[name] = value;
    }
  }
  return values;
}

/** Where in a value an ajv error is: `[1]`, `['key']`, or '' for the value itself. */
function pointerText(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map(part => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map(part => (/^\d+$/.test(part) ? `[${part}]` : `['${part}']`))
    .join('');
}

/**
 * What rjsf's schema check cannot know: a parameter left empty that cannot be None, and
 * JSON text that does not parse or does not fit the parameter's schema (checked by the
 * same ajv validator).
 */
export function checkValues(
  form: IRunForm,
  data: FormData | undefined,
  errors: FormValidation<FormData>,
  trans: TranslationBundle
): FormValidation<FormData> {
  for (const [name, parameter] of Object.entries(form.parameters)) {
    const field = errors[name] as FormValidation | undefined;
    const value = data?.[name];
    if (!field) {
      continue;
    }
    if (!form.json.includes(name)) {
      if (value === undefined) {
        field.addError(
          trans.__('Enter a value: this parameter cannot be None.')
        );
      }
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(value ?? ''));
    } catch {
      field.addError(
        trans.__(
          'Not valid JSON: strings need double quotes ("text"), None is null.'
        )
      );
      continue;
    }
    const { errors: problems } = validator.rawValidation(
      parameter.schema,
      parsed
    );
    for (const problem of problems ?? []) {
      const where = pointerText(problem.instancePath);
      field.addError(
        trans.__(
          '%1%2 %3',
          name,
          where,
          problem.keyword === 'type'
            ? expected(problem.params.type, trans)
            : (problem.message ?? trans.__('is not valid'))
        )
      );
    }
  }
  return errors;
}

/** "must be an integer" for ajv's `type` keyword (`'integer'`, `['array', 'null']`). */
function expected(type: unknown, trans: TranslationBundle): string {
  const nouns: Record<string, string> = {
    integer: trans.__('an integer'),
    number: trans.__('a number'),
    string: trans.__('a string'),
    boolean: trans.__('true or false'),
    array: trans.__('a list'),
    object: trans.__('a dict (a JSON object)'),
    null: trans.__('None (null)')
  };
  const types = (Array.isArray(type) ? type : String(type).split(',')).map(
    t => nouns[String(t)] ?? String(t)
  );
  return trans.__('must be %1', types.join(trans.__(' or ')));
}

/** ajv's messages said the way the rest of the dialog says things. */
export function errorWords(
  errors: RJSFValidationError[],
  trans: TranslationBundle
): RJSFValidationError[] {
  return errors.map(error => {
    if (error.name === 'type') {
      return {
        ...error,
        message: sentence(expected(error.params?.type, trans))
      };
    }
    if (error.name === 'enum') {
      const allowed = (error.params?.allowedValues ?? []) as unknown[];
      return {
        ...error,
        message: trans.__(
          'Must be one of %1.',
          allowed.map(v => JSON.stringify(v)).join(', ')
        )
      };
    }
    return { ...error, message: sentence(error.message ?? '') };
  });
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) {
    return trimmed;
  }
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/**
 * A server refusal mapped onto the form, as rjsf's extra errors beside the fields: the
 * problems of `invalid_parameters` (each with the parameter it names) and the error
 * body's `fields` named `parameters.<name>` (the run request's field of that parameter).
 * The problems the form has no field for (an unknown parameter, a problem of no single
 * one, another field of the request) are returned apart, to be shown on their own.
 */
export function serverErrors(
  error: {
    parameters: readonly ParameterError[];
    fields?: readonly FieldError[];
  },
  form: IRunForm
): { fields: ErrorSchema<FormData>; others: string[] } {
  const fields: Record<string, { __errors: string[] }> = {};
  const others: string[] = [];
  const problems = [
    ...error.parameters,
    ...(error.fields ?? []).map(({ field, message }) => ({
      parameter: field.startsWith('parameters.')
        ? field.slice('parameters.'.length)
        : null,
      message
    }))
  ];
  for (const { parameter, message } of problems) {
    if (parameter !== null && parameter in form.parameters) {
      (fields[parameter] ??= { __errors: [] }).__errors.push(message);
    } else {
      others.push(message);
    }
  }
  return { fields: fields as ErrorSchema<FormData>, others };
}

/**
 * The server's errors still standing: those of a field whose value changed since it was
 * sent are dropped (the user is fixing it).
 */
export function standingErrors(
  errors: ErrorSchema<FormData>,
  sent: FormData,
  data: FormData
): ErrorSchema<FormData> {
  const kept: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(errors)) {
    if (JSON.stringify(sent[name]) === JSON.stringify(data[name])) {
      kept[name] = entry;
    }
  }
  return kept as ErrorSchema<FormData>;
}
