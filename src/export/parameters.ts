/**
 * A job's parameters, from the JSON Schema export wrote (`parameters.schema.json`): what
 * the run form shows, how text typed into it becomes typed values, and which server
 * error belongs to which parameter. The server checks every value again before a kernel
 * starts; checking here only spares a round trip and keeps the message beside its input.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import type { ParameterError } from '../api/types';

/** The key of the extension's own keywords in a parameter's schema. */
export const EXTENSION = 'x-jupyter-mlops';

export type ParamKind =
  'integer' | 'number' | 'string' | 'boolean' | 'array' | 'object' | 'any';

/** A parameter's type, as `ParamType` is on the server. */
export interface IParamType {
  kind: ParamKind;
  nullable: boolean;
  /** The allowed values of a `Literal[...]`, or null. */
  choices: unknown[] | null;
  /** Element type (array) or value type (object), or null for any. */
  items: IParamType | null;
}

export interface IParameterSpec {
  name: string;
  type: IParamType;
  /** The type as the notebook wrote it (`int`, `list[str] | None`...). */
  typeText: string;
  default: unknown;
  help: string;
}

/** How a parameter is typed in: the input the form shows for it. */
export type InputKind =
  'integer' | 'number' | 'string' | 'boolean' | 'choice' | 'json';

/** What became of the text typed for a parameter. */
export type ParsedInput = { value: unknown } | { error: string };

const KINDS: ParamKind[] = [
  'integer',
  'number',
  'string',
  'boolean',
  'array',
  'object'
];
const ANY: IParamType = {
  kind: 'any',
  nullable: true,
  choices: null,
  items: null
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type a parameter's JSON Schema keywords describe. */
export function paramType(prop: unknown): IParamType {
  if (!isRecord(prop) || prop.type === undefined) {
    return ANY;
  }
  const declared = Array.isArray(prop.type) ? prop.type : [prop.type];
  const nullable = declared.includes('null');
  const names = declared.filter(n => n !== 'null') as string[];
  const kind = (
    names.length === 1 && KINDS.includes(names[0] as ParamKind)
      ? names[0]
      : 'any'
  ) as ParamKind;
  const inner = kind === 'array' ? prop.items : prop.additionalProperties;
  const items =
    (kind === 'array' || kind === 'object') && isRecord(inner)
      ? paramType(inner)
      : null;
  const choices = Array.isArray(prop.enum)
    ? prop.enum.filter(v => v !== null)
    : null;
  return { kind, nullable: nullable || kind === 'any', choices, items };
}

/** The type written the way Python does, for a schema without the extension's note. */
export function pythonTypeText(type: IParamType): string {
  if (type.kind === 'any') {
    return 'Any';
  }
  let text: string;
  if (type.choices) {
    text = `Literal[${type.choices.map(c => JSON.stringify(c)).join(', ')}]`;
  } else if (type.kind === 'array' || type.kind === 'object') {
    text = type.kind === 'array' ? 'list' : 'dict';
    if (type.items) {
      const inner = pythonTypeText(type.items);
      text += type.kind === 'array' ? `[${inner}]` : `[str, ${inner}]`;
    }
  } else {
    text = { integer: 'int', number: 'float', string: 'str', boolean: 'bool' }[
      type.kind
    ];
  }
  return type.nullable ? `${text} | None` : text;
}

/** The parameters of a job, in the order the parameters cell assigns them. */
export function parameterSpecs(schema: unknown): IParameterSpec[] {
  const properties = isRecord(schema) ? schema.properties : undefined;
  if (!isRecord(properties)) {
    return [];
  }
  return Object.entries(properties).map(([name, prop]) => {
    const type = paramType(prop);
    const record = isRecord(prop) ? prop : {};
    const extension = record[EXTENSION];
    const pythonType = isRecord(extension) ? extension.python_type : undefined;
    return {
      name,
      type,
      typeText:
        typeof pythonType === 'string' ? pythonType : pythonTypeText(type),
      default: record.default,
      help: typeof record.description === 'string' ? record.description : ''
    };
  });
}

/** The input a parameter gets: JSON text for lists, dicts, untyped and nullable ones. */
export function inputKind(type: IParamType): InputKind {
  if (type.nullable || type.kind === 'any') {
    return 'json';
  }
  if (type.choices) {
    return 'choice';
  }
  if (type.kind === 'array' || type.kind === 'object') {
    return 'json';
  }
  return type.kind;
}

/** A parameter's default as its input shows it. */
export function initialText(spec: IParameterSpec): string {
  const value = spec.default;
  switch (inputKind(spec.type)) {
    case 'string':
      return typeof value === 'string' ? value : '';
    case 'boolean':
      return value === true ? 'true' : 'false';
    case 'choice': {
      const index = (spec.type.choices ?? []).findIndex(c => c === value);
      return String(Math.max(index, 0));
    }
    case 'integer':
    case 'number':
      return typeof value === 'number' ? String(value) : '';
    default:
      return JSON.stringify(value === undefined ? null : value);
  }
}

/** The type in words, for messages: "an integer", "a list of: a string". */
export function describeType(
  type: IParamType,
  trans: TranslationBundle
): string {
  let text: string;
  if (type.kind === 'any') {
    return trans.__('a JSON value');
  }
  if (type.choices) {
    text = trans.__(
      'one of %1',
      type.choices.map(c => JSON.stringify(c)).join(', ')
    );
  } else {
    const nouns: Record<Exclude<ParamKind, 'any'>, string> = {
      integer: trans.__('an integer'),
      number: trans.__('a number'),
      string: trans.__('a string'),
      boolean: trans.__('true or false'),
      array: trans.__('a list'),
      object: trans.__('a JSON object')
    };
    text = nouns[type.kind];
    if (type.items && type.kind === 'array') {
      text = trans.__(
        'a list whose items are %1',
        describeType(type.items, trans)
      );
    } else if (type.items && type.kind === 'object') {
      text = trans.__(
        'a JSON object whose values are %1',
        describeType(type.items, trans)
      );
    }
  }
  return type.nullable ? trans.__('%1, or null', text) : text;
}

/**
 * Where a value does not fit a type ('' for the value itself, `[2]` or `['k']` for a
 * part), or null when it fits. The server's `convert`: a boolean is no number, an
 * integer is a number, null only where the type allows it.
 */
export function mismatch(type: IParamType, value: unknown): string | null {
  if (value === null) {
    return type.nullable ? null : '';
  }
  if (type.kind === 'any') {
    return null;
  }
  let found: string | null = null;
  switch (type.kind) {
    case 'integer':
      found = Number.isInteger(value) ? null : '';
      break;
    case 'number':
      found = typeof value === 'number' && Number.isFinite(value) ? null : '';
      break;
    case 'string':
      found = typeof value === 'string' ? null : '';
      break;
    case 'boolean':
      found = typeof value === 'boolean' ? null : '';
      break;
    case 'array':
      if (!Array.isArray(value)) {
        return '';
      }
      for (let i = 0; i < value.length && type.items; i++) {
        const inner = mismatch(type.items, value[i]);
        if (inner !== null) {
          return `[${i}]${inner}`;
        }
      }
      break;
    case 'object':
      if (!isRecord(value)) {
        return '';
      }
      for (const [key, item] of Object.entries(value)) {
        const inner = type.items ? mismatch(type.items, item) : null;
        if (inner !== null) {
          return `['${key}']${inner}`;
        }
      }
      break;
  }
  if (found === null && type.choices && !type.choices.includes(value)) {
    return '';
  }
  return found;
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The typed value of what was typed for a parameter, or why it does not fit. */
export function parseInput(
  spec: IParameterSpec,
  text: string,
  trans: TranslationBundle
): ParsedInput {
  const expected = () =>
    trans.__('Expected %1.', describeType(spec.type, trans));
  const kind = inputKind(spec.type);
  switch (kind) {
    case 'string':
      return { value: text };
    case 'boolean':
      return { value: text === 'true' };
    case 'choice': {
      const choices = spec.type.choices ?? [];
      const index = Number(text);
      return Number.isInteger(index) && index >= 0 && index < choices.length
        ? { value: choices[index] }
        : { error: expected() };
    }
    case 'integer': {
      const trimmed = text.trim();
      if (!INTEGER_TEXT.test(trimmed)) {
        return { error: expected() };
      }
      const value = Number(trimmed);
      if (!Number.isSafeInteger(value)) {
        return {
          error: trans.__(
            'This integer is too large to be sent exactly (at most %1).',
            Number.MAX_SAFE_INTEGER
          )
        };
      }
      return { value };
    }
    case 'number': {
      const trimmed = text.trim();
      const value = Number(trimmed);
      if (!NUMBER_TEXT.test(trimmed) || !Number.isFinite(value)) {
        return { error: expected() };
      }
      return { value };
    }
    default: {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return {
          error: trans.__(
            'Not valid JSON. %1 Strings need double quotes, e.g. "text".',
            expected()
          )
        };
      }
      const where = mismatch(spec.type, value);
      if (where === null) {
        return { value };
      }
      return {
        error: where
          ? trans.__('%1 is wrong here. %2', `${spec.name}${where}`, expected())
          : expected()
      };
    }
  }
}

/**
 * The values to send for a run and the problems to show: only the parameters whose input
 * was changed are sent (the job's own defaults apply to the others, exactly).
 */
export function collectValues(
  specs: IParameterSpec[],
  texts: Record<string, string>,
  trans: TranslationBundle
): { values: Record<string, unknown>; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const spec of specs) {
    const text = texts[spec.name];
    if (text === undefined || text === initialText(spec)) {
      continue;
    }
    const parsed = parseInput(spec, text, trans);
    if ('error' in parsed) {
      errors[spec.name] = parsed.error;
    } else {
      values[spec.name] = parsed.value;
    }
  }
  return { values, errors };
}

/**
 * The server's refusal of parameter values (`invalid_parameters`), mapped onto the form:
 * the problems of each parameter it has a field for, and the others (a
 * parameter the form does not know, or none in particular) to show on their own.
 */
export function parameterErrors(
  problems: readonly ParameterError[],
  names: readonly string[]
): { fields: Record<string, string>; others: string[] } {
  const fields: Record<string, string> = {};
  const others: string[] = [];
  for (const { parameter, message } of problems) {
    if (parameter !== null && names.includes(parameter)) {
      fields[parameter] = fields[parameter]
        ? `${fields[parameter]} ${message}`
        : message;
    } else {
      others.push(message);
    }
  }
  return { fields, others };
}
