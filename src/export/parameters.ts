/**
 * A job's parameters as its JSON Schema (`parameters.schema.json`, written by export)
 * lists them: name, schema, the type as the notebook wrote it, default and help. What the
 * run form does with them is in `runForm.ts`; typing and checking values is the schema's
 * job (rjsf and ajv here, the server again before a kernel starts).
 */

/** The key of the extension's own keywords in a parameter's schema. */
export const EXTENSION = 'x-jupyter-mlops';

export interface IParameter {
  name: string;
  /** The parameter's JSON Schema, as the job wrote it. */
  schema: Record<string, unknown>;
  /** The type as the notebook wrote it (`int`, `list[str] | None`...). */
  typeText: string;
  default: unknown;
  help: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON types a schema allows (`[]`: any JSON value). */
export function jsonTypes(schema: Record<string, unknown>): string[] {
  const type = schema.type;
  if (typeof type === 'string') {
    return [type];
  }
  return Array.isArray(type)
    ? type.filter((t): t is string => typeof t === 'string')
    : [];
}

/** The parameters of a job, in the order the parameters cell assigns them. */
export function parameterList(schema: unknown): IParameter[] {
  const properties = isRecord(schema) ? schema.properties : undefined;
  if (!isRecord(properties)) {
    return [];
  }
  return Object.entries(properties).map(([name, prop]) => {
    const record = isRecord(prop) ? prop : {};
    const extension = record[EXTENSION];
    const pythonType = isRecord(extension) ? extension.python_type : undefined;
    return {
      name,
      schema: record,
      typeText:
        typeof pythonType === 'string'
          ? pythonType
          : jsonTypes(record).join(' | ') || 'Any',
      default: record.default,
      help: typeof record.description === 'string' ? record.description : ''
    };
  });
}
