import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { act, mount, settle } from './react';

import type { MlopsClient } from '../api/client';
import { MlopsApiError } from '../api/request';
import type { JobInfo } from '../api/types';
import { parameterList } from '../export/parameters';
import { RunPane } from '../export/RunPane';
import {
  isNative,
  runForm,
  runValues,
  serverErrors,
  standingErrors
} from '../export/runForm';

const trans = nullTranslator.load('jupyter_mlops');

/** A parameter schema as export writes it (`ParameterSchema.to_json_schema`). */
const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    epochs: {
      type: 'integer',
      default: 10,
      description: 'passes over the data',
      'x-jupyter-mlops': { python_type: 'int', line: 1 }
    },
    lr: {
      type: 'number',
      default: 0.001,
      'x-jupyter-mlops': { python_type: 'float' }
    },
    layers: {
      type: 'array',
      items: { type: 'integer' },
      default: [64, 32],
      'x-jupyter-mlops': { python_type: 'list[int]' }
    },
    run_name: {
      type: ['string', 'null'],
      default: null,
      'x-jupyter-mlops': { python_type: 'str | None' }
    },
    mode: {
      type: 'string',
      enum: ['fast', 'slow'],
      default: 'slow',
      'x-jupyter-mlops': { python_type: "Literal['fast', 'slow']" }
    },
    debug: { type: 'boolean', default: false },
    note: { type: 'string', default: 'hi' },
    opts: {
      type: 'object',
      additionalProperties: { type: 'integer' },
      default: { a: 1 },
      'x-jupyter-mlops': { python_type: 'dict[str, int]' }
    },
    anything: { default: [1, 'a'] }
  },
  additionalProperties: false,
  'x-jupyter-mlops': { schema_version: 1 }
};

const JOB: JobInfo = {
  name: 'train',
  path: 'pipelines/train',
  notebook: 'train.ipynb',
  source: 'train.ipynb',
  experiment: 'train',
  targets: ['docker'],
  parameters: SCHEMA,
  exported_at: '2026-11-02T10:00:00+00:00',
  warnings: [],
  build: null
};

describe('parameter list', () => {
  it('reads the schema in the order of the parameters cell', () => {
    const list = parameterList(SCHEMA);
    expect(list.map(p => p.name)).toEqual(Object.keys(SCHEMA.properties));
    expect(list[0]).toMatchObject({
      typeText: 'int',
      default: 10,
      help: 'passes over the data'
    });
    // Without the extension's note: the JSON types, or Any.
    expect(list.find(p => p.name === 'debug')!.typeText).toBe('boolean');
    expect(list.find(p => p.name === 'anything')!.typeText).toBe('Any');
  });

  it('is empty for a notebook without parameters', () => {
    expect(parameterList({ type: 'object', properties: {} })).toEqual([]);
    expect(parameterList({})).toEqual([]);
  });
});

describe('run form schema', () => {
  const form = runForm(SCHEMA, trans);

  it('leaves scalars and lists of scalars to rjsf, the rest as JSON text', () => {
    expect(form.json).toEqual(['opts', 'anything']);
    expect(
      isNative({ type: ['array', 'null'], items: { type: 'integer' } })
    ).toBe(false);
    expect(isNative({ type: 'array' })).toBe(false);
    expect(isNative({ type: 'array', items: { type: 'array' } })).toBe(false);
    expect(isNative({ type: ['boolean', 'null'] })).toBe(false);
    expect(isNative({ type: ['integer', 'null'] })).toBe(true);
  });

  it("keeps the job's schema for rjsf, titled with the Python type", () => {
    const properties = form.schema.properties as Record<string, any>;
    expect(Object.keys(properties)).toEqual(Object.keys(SCHEMA.properties));
    expect(properties.epochs).toEqual({
      type: 'integer',
      default: 10,
      description: 'passes over the data',
      title: 'epochs: int'
    });
    expect(properties.mode.enum).toEqual(['fast', 'slow']);
    expect(properties.layers.items).toEqual({ type: 'integer' });
    expect(properties.opts).toMatchObject({
      type: 'string',
      title: 'opts: dict[str, int]'
    });
    // Draft 2020-12 and the extension's keywords stay out of the form.
    expect(form.schema).not.toHaveProperty('$schema');
    expect(JSON.stringify(form.schema)).not.toContain('x-jupyter-mlops');
  });

  it('starts from the defaults; None-able inputs emptied are None', () => {
    expect(form.defaults).toEqual({
      epochs: 10,
      lr: 0.001,
      layers: [64, 32],
      run_name: null,
      mode: 'slow',
      debug: false,
      note: 'hi',
      opts: '{"a":1}',
      anything: '[1,"a"]'
    });
    expect(form.uiSchema.run_name).toMatchObject({ 'ui:emptyValue': null });
    expect(form.uiSchema.note).toMatchObject({ 'ui:emptyValue': '' });
    expect(form.uiSchema.opts).toMatchObject({ 'ui:widget': 'textarea' });
  });

  it('sends only what was changed, JSON text parsed', () => {
    expect(runValues(form, form.defaults)).toEqual({});
    expect(
      runValues(form, {
        ...form.defaults,
        epochs: 3,
        layers: [8],
        opts: '{ "a": 1 }',
        anything: 'null',
        run_name: 'nightly'
      })
    ).toEqual({ epochs: 3, layers: [8], anything: null, run_name: 'nightly' });
  });

  it("puts the server's problems beside their parameters", () => {
    const problems = [
      { parameter: 'epoch', message: "unknown parameter 'epoch'" },
      { parameter: 'epochs', message: "'epochs' expects an integer" },
      { parameter: 'epochs', message: 'and more' },
      { parameter: null, message: 'line 4 unpacks several names' }
    ];
    expect(serverErrors({ parameters: problems }, form)).toEqual({
      fields: {
        epochs: { __errors: ["'epochs' expects an integer", 'and more'] }
      },
      others: ["unknown parameter 'epoch'", 'line 4 unpacks several names']
    });
    // The error body's fields: a parameter's is the request's `parameters.<name>`.
    const fields = [
      { field: 'parameters.lr', message: 'Input should be a number.' },
      { field: 'job', message: 'Not a job folder.' }
    ];
    expect(serverErrors({ parameters: [], fields }, form)).toEqual({
      fields: { lr: { __errors: ['Input should be a number.'] } },
      others: ['Not a job folder.']
    });
  });

  it("drops a server problem once its field's value changes", () => {
    const errors = {
      epochs: { __errors: ['too many'] },
      lr: { __errors: ['too small'] }
    };
    const sent = { epochs: 100, lr: 0 };
    expect(standingErrors(errors, sent, { epochs: 100, lr: 0.1 })).toEqual({
      epochs: { __errors: ['too many'] }
    });
    expect(standingErrors(errors, sent, sent)).toEqual(errors);
  });
});

describe('run pane', () => {
  function renderPane(runJob: jest.Mock) {
    const client = { runJob } as unknown as MlopsClient;
    return mount(
      React.createElement(RunPane, {
        client,
        job: JOB,
        built: false,
        trans,
        openPath: () => undefined,
        onChanged: () => undefined
      })
    );
  }

  const input = (host: HTMLElement, name: string) =>
    host.querySelector(`[id$="_${name}"]`) as
      HTMLInputElement | HTMLTextAreaElement;

  /** What React's onChange sees when a person types `value`. */
  async function type(
    element: HTMLInputElement | HTMLTextAreaElement,
    value: string
  ): Promise<void> {
    const proto = Object.getPrototypeOf(element);
    const setter = Object.getOwnPropertyDescriptor(proto, 'value')!.set!;
    await act(async () => {
      setter.call(element, value);
      element.dispatchEvent(new Event('input', { bubbles: true }));
    });
  }

  async function submit(host: HTMLElement): Promise<void> {
    const form = host.querySelector('form')!;
    await act(async () => {
      form.dispatchEvent(
        new Event('submit', { bubbles: true, cancelable: true })
      );
    });
    await settle();
  }

  /** The messages shown beside a parameter's field. */
  const messages = (host: HTMLElement, name: string) =>
    Array.from(
      input(host, name)
        .closest('.form-group')!
        .querySelectorAll('.validationErrors li')
    ).map(li => li.textContent);

  it('draws a typed, labelled input per parameter, filled with its default', () => {
    const { host, unmount } = renderPane(jest.fn());
    expect(input(host, 'epochs').getAttribute('type')).toBe('number');
    expect(input(host, 'epochs').value).toBe('10');
    expect(input(host, 'mode').tagName).toBe('SELECT');
    expect((input(host, 'debug') as HTMLInputElement).type).toBe('checkbox');
    expect(input(host, 'opts').tagName).toBe('TEXTAREA');
    expect(input(host, 'opts').value).toBe('{"a":1}');
    expect(host.querySelectorAll('[id*="_layers_"]').length).toBe(2);
    expect(host.textContent).toContain('passes over the data');
    const label = host.querySelector(`label[for="${input(host, 'mode').id}"]`);
    expect(label!.textContent).toBe('mode');
    unmount();
  });

  it('refuses wrong values beside their fields without asking the server', async () => {
    const runJob = jest.fn();
    const { host, unmount } = renderPane(runJob);
    await type(input(host, 'epochs'), '2.5');
    await type(input(host, 'opts'), '{"a": "x"}');
    await type(input(host, 'anything'), "{'a': 1}");
    await type(input(host, 'lr'), '');
    await submit(host);
    expect(runJob).not.toHaveBeenCalled();
    expect(messages(host, 'epochs')).toEqual(['Must be an integer.']);
    expect(messages(host, 'opts')).toEqual(["opts['a'] must be an integer"]);
    expect(messages(host, 'anything')[0]).toContain('Not valid JSON');
    expect(messages(host, 'lr')).toEqual([
      'Enter a value: this parameter cannot be None.'
    ]);
    // Fixed, the message goes as it is typed.
    await type(input(host, 'epochs'), '3');
    expect(messages(host, 'epochs')).toEqual([]);
    unmount();
  });

  it('runs with the values changed, parsed', async () => {
    const runJob = jest.fn().mockResolvedValue({
      execution_id: '0'.repeat(32),
      job: 'pipelines/train',
      status: 'running',
      exit_code: null,
      in_container: false,
      started_at: '2026-11-02T10:00:00+00:00',
      ended_at: null,
      output: null,
      log: null,
      parameters: {}
    });
    const { host, unmount } = renderPane(runJob);
    await type(input(host, 'epochs'), '3');
    await type(input(host, 'opts'), '{"a": 2}');
    await submit(host);
    expect(runJob).toHaveBeenCalledWith({
      job: 'pipelines/train',
      parameters: { epochs: 3, opts: { a: 2 } },
      in_container: false
    });
    unmount();
  });

  it("shows each server problem beside its parameter's field, the others in a card", async () => {
    const runJob = jest.fn().mockRejectedValue(
      new MlopsApiError(
        "unknown parameter 'seed'; parameter 'epochs' is too large",
        400,
        'invalid_parameters',
        [
          { parameter: 'seed', message: "unknown parameter 'seed'" },
          { parameter: 'epochs', message: "parameter 'epochs' is too large" }
        ]
      )
    );
    const { host, unmount } = renderPane(runJob);
    await submit(host);
    expect(runJob).toHaveBeenCalledWith({
      job: 'pipelines/train',
      parameters: {},
      in_container: false
    });
    expect(messages(host, 'epochs')).toEqual([
      "parameter 'epochs' is too large"
    ]);
    expect(messages(host, 'lr')).toEqual([]);
    expect(host.querySelector('.jp-mlops-ErrorCard-message')!.textContent).toBe(
      "unknown parameter 'seed'"
    );
    // Changing the value clears the server's word on it.
    await type(input(host, 'epochs'), '4');
    expect(messages(host, 'epochs')).toEqual([]);
    unmount();
  });

  it('sends an emptied None-able input as None, and None chosen from a select', async () => {
    const runJob = jest.fn().mockRejectedValue(new Error('stop here'));
    const client = { runJob } as unknown as MlopsClient;
    const job = {
      ...JOB,
      parameters: {
        type: 'object',
        properties: {
          seed: { type: ['integer', 'null'], default: 42 },
          kind: {
            type: ['string', 'null'],
            enum: ['a', 'b', null],
            default: 'a'
          }
        }
      }
    };
    const { host, unmount } = mount(
      React.createElement(RunPane, {
        client,
        job,
        built: false,
        trans,
        openPath: () => undefined,
        onChanged: () => undefined
      })
    );
    expect(input(host, 'seed').getAttribute('placeholder')).toBe('None');
    await type(input(host, 'seed'), '');
    const select = input(host, 'kind') as unknown as HTMLSelectElement;
    const none = Array.from(select.options).find(o => o.text === 'None')!;
    await act(async () => {
      select.value = none.value;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await submit(host);
    expect(runJob).toHaveBeenCalledWith({
      job: 'pipelines/train',
      parameters: { seed: null, kind: null },
      in_container: false
    });
    unmount();
  });

  it('shows other refusals in an error card', async () => {
    const runJob = jest
      .fn()
      .mockRejectedValue(
        new MlopsApiError(
          'no image built for pipelines/train; build it first',
          400,
          'not_built'
        )
      );
    const { host, unmount } = renderPane(runJob);
    await submit(host);
    expect(host.querySelector('.validationErrors li')).toBeNull();
    expect(
      host.querySelector('.jp-mlops-ErrorCard-message')!.textContent
    ).toContain('build it first');
    // Trying the same again cannot help.
    expect(host.querySelector('.jp-mlops-ErrorCard-retry')).toBeNull();
    unmount();
  });

  it('offers Retry where trying again can help, with the values sent', async () => {
    const runJob = jest
      .fn()
      .mockRejectedValue(
        new MlopsApiError('Cannot reach the Jupyter server', 0, 'network_error')
      );
    const { host, unmount } = renderPane(runJob);
    await type(input(host, 'epochs'), '7');
    await submit(host);
    const retry = host.querySelector(
      '.jp-mlops-ErrorCard-retry'
    ) as HTMLElement;
    await act(async () => retry.click());
    await settle();
    expect(runJob).toHaveBeenCalledTimes(2);
    expect(runJob.mock.calls[1][0].parameters).toEqual({ epochs: 7 });
    unmount();
  });
});
