import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { act, createRoot, mount, settle } from './react';

// Node's ReadableStream, which jsdom lacks (the browser has it).
declare const require: (id: string) => any;
const { ReadableStream } = require('stream/web');

import { MlopsClient } from '../api/client';
import { IByteReader, LineSplitter, readNdjson } from '../api/ndjson';
import { MlopsApiError } from '../api/request';
import type {
  BuildProgressEvent,
  ExportRequest,
  ExportTargetInfo,
  JobBuild
} from '../api/types';
import {
  IDLE_BUILD,
  buildReducer,
  failedBuild,
  sizeText,
  startedBuild
} from '../export/build';
import { BuildProgress } from '../export/BuildPane';
import {
  ExportFlow,
  VALIDATE_DELAY,
  changedFields
} from '../export/ExportFlow';
import { PinnedData } from '../export/JobResult';
import { deriveJobName, jobNameProblem, slug } from '../export/names';
import {
  exportProblems,
  exportRequest,
  fieldProblems,
  initialExportValues,
  jobWarnings,
  restoredValues,
  retryable,
  storedValues,
  usableTargets,
  usesOrchestrator,
  warningText
} from '../export/options';

const trans = nullTranslator.load('jupyter_mlops');
const encoder = new TextEncoder();

/** What `GET jobs/targets` answers: built-in targets, a plugin, a broken plugin. */
const TARGETS: ExportTargetInfo[] = [
  {
    name: 'argo',
    description: 'Argo Workflow',
    orchestrator: true,
    error: null
  },
  {
    name: 'broken',
    description: '',
    orchestrator: false,
    error: "export target 'broken' (no_such:Target) cannot be loaded"
  },
  {
    name: 'docker',
    description: 'Dockerfile',
    orchestrator: false,
    error: null
  },
  {
    name: 'dvc',
    description: 'DVC stage',
    orchestrator: false,
    error: null
  },
  {
    name: 'kubernetes',
    description: 'Kubernetes Job',
    orchestrator: true,
    error: null
  },
  {
    name: 'nomad',
    description: 'Nomad job specification',
    orchestrator: true,
    error: null
  }
];

/** A promise with its resolve and reject at hand. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve: (value: T) => void = () => undefined;
  let reject: (reason: unknown) => void = () => undefined;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** A reader that hands out the given byte chunks, one per read. */
function chunks(...parts: Uint8Array[]): IByteReader & { cancelled: boolean } {
  let index = 0;
  return {
    cancelled: false,
    read: async () =>
      index < parts.length
        ? { done: false, value: parts[index++] }
        : { done: true, value: undefined },
    async cancel() {
      this.cancelled = true;
    }
  };
}

/** The bytes of `text` cut at the given byte offsets. */
function cut(text: string, ...offsets: number[]): Uint8Array[] {
  const bytes = encoder.encode(text);
  const edges = [0, ...offsets, bytes.length];
  return edges.slice(1).map((end, i) => bytes.slice(edges[i], end));
}

const BUILD: JobBuild = {
  image: 'train:latest',
  image_id: 'sha256:0123456789ab',
  size: 414_000_000,
  seconds: 21.4,
  steps: 9,
  engine: 'Podman Engine',
  built_at: '2026-11-02T10:00:00+00:00'
};

describe('NDJSON stream reader', () => {
  it('splits lines across chunks and keeps a partial last line', () => {
    const lines = new LineSplitter();
    expect(lines.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(lines.push(':2}\r\n\n{"c":')).toEqual(['{"b":2}', '']);
    expect(lines.push('3}')).toEqual([]);
    expect(lines.flush()).toEqual(['{"c":3}']);
    expect(lines.flush()).toEqual([]);
  });

  it('reads objects whose lines and characters are split across chunks', async () => {
    const text =
      '{"event":"step","step":1,"total":2,"text":"FROM python"}\n' +
      '{"event":"log","text":"café ☕"}\n' +
      '{"event":"done","text":"built","build":{"image":"x"}}\n';
    const accent = encoder.encode(text).indexOf(0xc3); // inside "é"
    const seen: BuildProgressEvent[] = [];
    await readNdjson<BuildProgressEvent>(
      chunks(...cut(text, 10, 57, accent + 1, accent + 6)),
      event => seen.push(event)
    );
    expect(seen.map(e => e.event)).toEqual(['step', 'log', 'done']);
    expect(seen[0]).toMatchObject({ step: 1, total: 2, text: 'FROM python' });
    expect(seen[1].text).toBe('café ☕');
  });

  it('reads a final error line without a newline', async () => {
    const seen: BuildProgressEvent[] = [];
    await readNdjson<BuildProgressEvent>(
      chunks(
        ...cut(
          '{"event":"log","text":"x"}\n{"event":"error","text":"pip failed","code":"build_failed"}',
          30
        )
      ),
      event => seen.push(event)
    );
    expect(seen[1]).toEqual({
      event: 'error',
      text: 'pip failed',
      code: 'build_failed'
    });
  });

  it('refuses a line that is not JSON and stops reading', async () => {
    const reader = chunks(...cut('{"event":"log"}\n<html>\n{"event":"log"}\n'));
    await expect(readNdjson(reader, () => undefined)).rejects.toMatchObject({
      code: 'invalid_json'
    });
    expect(reader.cancelled).toBe(true);
  });
});

describe('MlopsClient.buildJob', () => {
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/'
  });
  afterEach(() => jest.restoreAllMocks());

  function streamed(...parts: string[]): Response {
    const body = new ReadableStream({
      start(controller: any) {
        for (const part of parts) {
          controller.enqueue(encoder.encode(part));
        }
        controller.close();
      }
    });
    return new Response(body as any, {
      status: 200,
      headers: { 'Content-Type': 'application/x-ndjson' }
    });
  }

  it('hands out events as they come and resolves with the last one', async () => {
    const request = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockResolvedValue(
        streamed(
          '{"event":"step","step":1,"to',
          'tal":2,"text":"FROM x"}\n{"event":"step","step":2,"total":2,"text":"COPY . ."}\n',
          `{"event":"done","text":"built","build":${JSON.stringify(BUILD)}}\n`
        )
      );
    const events: BuildProgressEvent[] = [];
    const last = await new MlopsClient(settings).buildJob(
      { job: 'pipelines/train' },
      event => events.push(event)
    );
    expect(request.mock.calls[0][0]).toBe(
      'http://localhost:8888/jupyter-mlops/jobs/build'
    );
    expect(request.mock.calls[0][1].method).toBe('POST');
    expect(events.map(e => e.step)).toEqual([1, 2, undefined]);
    expect(last.event).toBe('done');
    expect(last.build).toEqual(BUILD);
  });

  it('rejects with the server message when no engine answers', async () => {
    jest.spyOn(ServerConnection, 'makeRequest').mockResolvedValue(
      new Response(
        JSON.stringify({
          message:
            'no container engine answers at unix:///x.sock; install Docker',
          code: 'no_container_engine'
        }),
        { status: 503 }
      )
    );
    const error = await new MlopsClient(settings)
      .buildJob({ job: 'pipelines/train' }, () => undefined)
      .catch(e => e);
    expect(error).toBeInstanceOf(MlopsApiError);
    expect(error.status).toBe(503);
    expect(error.code).toBe('no_container_engine');
    expect(error.message).toContain('install Docker');
  });

  it('says so when the stream ends before the build does', async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockResolvedValue(streamed('{"event":"step","step":1,"total":3}\n'));
    await expect(
      new MlopsClient(settings).buildJob({ job: 'j' }, () => undefined)
    ).rejects.toMatchObject({ code: 'stream_ended' });
  });
});

describe('build progress', () => {
  const events: BuildProgressEvent[] = [
    { event: 'step', step: 1, total: 4, text: 'FROM python:3.11-slim' },
    { event: 'log', text: ' ---> 1234' },
    {
      event: 'step',
      step: 2,
      total: 4,
      text: 'RUN pip install -r requirements.txt'
    },
    { event: 'log', text: 'Collecting papermill\nCollecting mlflow-skinny' }
  ];

  it('follows the steps, keeps the log and ends with the build', () => {
    const state = events.reduce(buildReducer, startedBuild());
    expect(state).toMatchObject({
      phase: 'building',
      step: 2,
      total: 4,
      instruction: 'RUN pip install -r requirements.txt'
    });
    expect(state.log).toEqual([
      'Step 1/4 : FROM python:3.11-slim',
      ' ---> 1234',
      'Step 2/4 : RUN pip install -r requirements.txt',
      'Collecting papermill',
      'Collecting mlflow-skinny'
    ]);
    const done = buildReducer(state, {
      event: 'done',
      text: 'built',
      build: BUILD
    });
    expect(done).toMatchObject({ phase: 'done', step: 4, build: BUILD });
  });

  it('ends with the error line as the failure', () => {
    const state = [
      ...events,
      {
        event: 'error',
        text: 'step 2 failed: No matching distribution',
        code: 'build_failed'
      } as BuildProgressEvent
    ].reduce(buildReducer, startedBuild());
    expect(state.phase).toBe('failed');
    expect(state.error).toEqual({
      message: 'step 2 failed: No matching distribution',
      code: 'build_failed'
    });
  });

  describe('rendered', () => {
    let host: HTMLDivElement;
    beforeAll(() => {
      (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
    });
    beforeEach(() => {
      host = document.createElement('div');
      document.body.appendChild(host);
    });
    afterEach(() => host.remove());

    function render(state: Parameters<typeof BuildProgress>[0]['state']): any {
      const root = createRoot(host);
      act(() => {
        root.render(React.createElement(BuildProgress, { state, trans }));
      });
      return root;
    }

    it('shows nothing before a build', () => {
      const root = render(IDLE_BUILD);
      expect(host.innerHTML).toBe('');
      act(() => root.unmount());
    });

    it('shows the step bar, the instruction and a folded log', () => {
      const root = render(events.reduce(buildReducer, startedBuild()));
      const bar = host.querySelector('[role=progressbar]')!;
      expect(bar.getAttribute('aria-valuenow')).toBe('2');
      expect(bar.getAttribute('aria-valuemax')).toBe('4');
      expect(
        (host.querySelector('.jp-mlops-export-barFill') as HTMLElement).style
          .width
      ).toBe('50%');
      expect(host.textContent).toContain('Step 2 of 4');
      expect(host.querySelector('code')!.textContent).toBe(
        'RUN pip install -r requirements.txt'
      );
      const log = host.querySelector('details')!;
      expect(log.open).toBe(false);
      expect(log.querySelector('summary')!.textContent).toContain('5 lines');
      expect(log.querySelector('pre')!.textContent).toContain(
        'Collecting mlflow-skinny'
      );
      act(() => root.unmount());
    });

    it('shows what was built', () => {
      const state = buildReducer(events.reduce(buildReducer, startedBuild()), {
        event: 'done',
        build: BUILD
      });
      const root = render(state);
      expect(host.querySelector('[role=status]')!.textContent).toContain(
        'train:latest'
      );
      expect(host.textContent).toContain('414 MB');
      act(() => root.unmount());
    });

    it('shows a failure with its message and opens the log', () => {
      const state = buildReducer(events.reduce(buildReducer, startedBuild()), {
        event: 'error',
        text: 'pip install failed',
        code: 'build_failed'
      });
      const root = render(state);
      expect(host.querySelector('[role=alert]')!.textContent).toContain(
        'pip install failed'
      );
      expect(host.textContent).toContain('At step 2');
      expect(host.querySelector('[role=progressbar]')).toBeNull();
      expect(host.querySelector('details')!.open).toBe(true);
      act(() => root.unmount());
    });

    it('shows the server message when no engine answers', () => {
      const root = render(
        failedBuild(
          startedBuild(),
          'no container engine answers at unix:///x.sock; install Docker, or Podman',
          'no_container_engine'
        )
      );
      expect(host.querySelector('[role=alert]')!.textContent).toContain(
        'install Docker, or Podman'
      );
      act(() => root.unmount());
    });
  });

  it('writes sizes for people', () => {
    expect(sizeText(512)).toBe('512 B');
    expect(sizeText(414_000_000)).toBe('414 MB');
    expect(sizeText(1_230_000_000)).toBe('1.2 GB');
  });
});

describe('job names', () => {
  it('are derived from the notebook name as the server derives them', () => {
    expect(deriveJobName('notebooks/Train Model (v2).ipynb')).toBe(
      'train-model-v2'
    );
    expect(deriveJobName('Été 2024.ipynb')).toBe('ete-2024');
    expect(deriveJobName('___.ipynb')).toBe('notebook-job');
    const long = deriveJobName(`${'a'.repeat(62)} b.ipynb`);
    expect(long).toBe('a'.repeat(62));
    expect(slug('My Job')).toBe('my-job');
  });

  it('are checked like a DNS label of at most 63 characters', () => {
    expect(jobNameProblem('train-2', trans)).toBeNull();
    expect(jobNameProblem('a'.repeat(63), trans)).toBeNull();
    expect(jobNameProblem('', trans)).toBe('A job name is needed.');
    expect(jobNameProblem('a'.repeat(64), trans)).toBe(
      'At most 63 characters (this one has 64).'
    );
    for (const bad of ['Train', '-train', 'train-', 'tr_ain', 'tr ain']) {
      expect(jobNameProblem(bad, trans)).toContain('lowercase letters');
    }
    expect(jobNameProblem('My Job', trans)).toContain('"my-job"');
  });
});

describe('export request', () => {
  it('starts from the notebook name and the docker target', () => {
    const values = initialExportValues('work/Churn Model.ipynb');
    expect(values.name).toBe('churn-model');
    expect(values.targets).toEqual(['docker']);
    expect(exportRequest('work/Churn Model.ipynb', values, TARGETS)).toEqual({
      notebook: 'work/Churn Model.ipynb',
      name: 'churn-model',
      targets: ['docker']
    });
  });

  it('sends the deployment options with an orchestrator target only', () => {
    const values = initialExportValues('a.ipynb');
    values.deployment.schedule = ' @daily ';
    values.deployment.gpu = '1';
    values.deployment.secrets = 'mlflow-creds, s3-creds\nother';
    expect(
      exportRequest('a.ipynb', values, TARGETS).deployment
    ).toBeUndefined();
    values.targets = ['docker', 'kubernetes'];
    expect(exportRequest('a.ipynb', values, TARGETS).deployment).toEqual({
      schedule: '@daily',
      gpu: 1,
      secrets: ['mlflow-creds', 's3-creds', 'other']
    });
    // A plugin's target is an orchestrator when the server says so.
    values.targets = ['nomad'];
    expect(exportRequest('a.ipynb', values, TARGETS).deployment).toEqual({
      schedule: '@daily',
      gpu: 1,
      secrets: ['mlflow-creds', 's3-creds', 'other']
    });
  });

  it("takes the orchestrators and the usable targets from the server's list", () => {
    expect(usesOrchestrator(['docker', 'dvc'], TARGETS)).toBe(false);
    expect(usesOrchestrator(['docker', 'nomad'], TARGETS)).toBe(true);
    expect(usesOrchestrator(['kubernetes'], [])).toBe(false);
    expect(
      usableTargets(['nomad', 'broken', 'gone', 'docker'], TARGETS)
    ).toEqual(['docker', 'nomad']);
  });

  it('checks the name, the targets and the GPUs first', () => {
    const values = initialExportValues('a.ipynb');
    values.name = 'Bad Name';
    values.targets = [];
    expect(Object.keys(exportProblems(values, TARGETS, trans))).toEqual([
      'name',
      'targets'
    ]);
    values.name = 'ok';
    values.targets = ['argo'];
    values.deployment.gpu = 'two';
    expect(Object.keys(exportProblems(values, TARGETS, trans))).toEqual([
      'gpu'
    ]);
    values.targets = ['docker'];
    expect(exportProblems(values, TARGETS, trans)).toEqual({});
  });

  it("puts the server's problems beside their fields, by their field names", () => {
    const found = fieldProblems([
      { field: 'deployment.schedule', message: "'bad' is not a valid cron." },
      { field: 'deployment.memory', message: "'lots' is not a quantity." },
      { field: 'targets.1', message: "Unknown export target 'nomad'." },
      { field: 'notebook', message: "Parameter 'epochs': not an integer." },
      { field: 'notebook', message: "Parameter 'lr': not a literal." },
      { field: 'name', message: 'Invalid job name.' },
      { field: 'out', message: 'The job folder leads outside.' },
      { field: 'deployment.surprise', message: 'Not a known field.' }
    ]);
    expect(found.fields).toEqual({
      schedule: "'bad' is not a valid cron.",
      memory: "'lots' is not a quantity.",
      targets: "Unknown export target 'nomad'.",
      notebook:
        "Parameter 'epochs': not an integer. Parameter 'lr': not a literal.",
      name: 'Invalid job name.'
    });
    expect(found.other.map(p => p.field)).toEqual([
      'out',
      'deployment.surprise'
    ]);
    expect(fieldProblems([])).toEqual({ fields: {}, other: [] });
  });

  it('offers Retry only where trying again can succeed', () => {
    expect(retryable({ status: 0, code: 'network_error' })).toBe(true);
    expect(retryable({ status: 503, code: 'no_container_engine' })).toBe(true);
    expect(retryable({ status: 507, code: 'insufficient_storage' })).toBe(true);
    expect(retryable({ status: 400, code: 'invalid_body' })).toBe(false);
    expect(retryable({ status: 409, code: 'conflict' })).toBe(false);
    expect(retryable({ status: 500, code: 'internal_error' })).toBe(false);
    expect(retryable({ status: 0, code: 'client_error' })).toBe(false);
  });

  it('knows which fields an edit changed', () => {
    const before = initialExportValues('a.ipynb');
    const after = {
      ...before,
      targets: ['docker', 'argo'],
      deployment: { ...before.deployment, schedule: '@daily' }
    };
    expect(changedFields(before, after)).toEqual(['targets', 'schedule']);
    expect(changedFields(before, { ...before })).toEqual([]);
  });

  it('remembers the typed options and restores them over the defaults', () => {
    const values = initialExportValues('work/train.ipynb');
    values.name = 'nightly';
    values.targets = ['docker', 'kubernetes'];
    values.deployment.schedule = '@daily';
    const kept = JSON.parse(JSON.stringify(storedValues(values)));
    expect(restoredValues('work/train.ipynb', kept)).toEqual(values);
    // Nothing kept, or something malformed: the defaults, field by field.
    expect(restoredValues('work/train.ipynb', undefined)).toEqual(
      initialExportValues('work/train.ipynb')
    );
    const odd = restoredValues('work/train.ipynb', {
      name: 3,
      targets: ['docker', 7],
      deployment: { cpu: '2', gpu: 1, unknown: 'x' }
    });
    expect(odd.name).toBe('train');
    expect(odd.targets).toEqual(['docker']);
    expect(odd.deployment.cpu).toBe('2');
    expect(odd.deployment.gpu).toBe('');
    expect('unknown' in odd.deployment).toBe(false);
  });

  it("says warnings in the dialog's words, not the CLI's", () => {
    const image = warningText(
      {
        message:
          "no --image given and no build recorded: manifests use 'train:latest'; re-export with --image",
        code: 'image_guessed',
        field: 'deployment.image',
        values: { image: 'train:latest' }
      },
      trans
    );
    expect(image).toContain('train:latest');
    expect(image).toContain('choose an image in the Orchestrator options');
    expect(image).not.toContain('--');
    const output = warningText(
      {
        message: '--output /out is a path in the container',
        code: 'output_in_container',
        field: 'deployment.output',
        values: { output: '/out', engine: 'Kubernetes' }
      },
      trans
    );
    expect(output).toContain('Output "/out"');
    expect(output).not.toContain('--output');
    // A warning with no code reads well anywhere: as the server says it.
    expect(
      warningText(
        { message: 'data.csv looks like a secret: not copied' },
        trans
      )
    ).toBe('data.csv looks like a secret: not copied');
    // A job listed by an older server: its texts.
    expect(jobWarnings({ warnings: ['a', 'b'] }, trans)).toEqual(['a', 'b']);
  });
});

describe('export dialog validation', () => {
  const field = (host: HTMLElement, name: string) =>
    host.querySelector(`[data-field="${name}"]`) as HTMLElement;
  const input = (host: HTMLElement, name: string) =>
    host.querySelector(`input[name="${name}"]`) as HTMLInputElement;
  const errorOf = (host: HTMLElement, name: string) =>
    field(host, name)?.querySelector('.jp-mlops-export-fieldError')
      ?.textContent ?? null;
  const exportButton = (host: HTMLElement) =>
    host.querySelector('button.jp-mlops-export-primary') as HTMLButtonElement;

  /** Type `text` into `element` as a person would (React sees an input event). */
  function typeInto(element: HTMLInputElement, text: string): void {
    const setter = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    act(() => {
      setter.call(element, text);
      element.dispatchEvent(new Event('input', { bubbles: true }));
    });
  }

  /** Let the typing pause pass, and the check answer. */
  async function pause(): Promise<void> {
    await act(async () => {
      await new Promise(resolve => setTimeout(resolve, VALIDATE_DELAY + 50));
    });
    await settle();
  }

  /** A server that refuses a schedule with "bad" in it and memory "lots". */
  function problemsOf(request: ExportRequest) {
    const problems = [];
    if (request.deployment?.schedule?.includes('bad')) {
      problems.push({
        field: 'deployment.schedule',
        message: "'bad' is not a valid cron expression."
      });
    }
    if (request.deployment?.memory === 'lots') {
      problems.push({
        field: 'deployment.memory',
        message: "'lots' is not a positive Kubernetes quantity."
      });
    }
    return problems;
  }

  function renderFlow(
    client: Record<string, jest.Mock>,
    extra: Record<string, unknown> = {}
  ) {
    return mount(
      React.createElement(ExportFlow, {
        client: {
          exportTargets: jest.fn().mockResolvedValue({ targets: TARGETS }),
          ...client
        } as unknown as MlopsClient,
        notebook: 'work/train.ipynb',
        trans,
        actions: {
          openPath: () => undefined,
          openFolder: () => undefined,
          changed: () => undefined
        },
        prepare: async () => undefined,
        ...extra
      })
    );
  }

  it('shows every problem at once beside its field, and clears a fixed one', async () => {
    const validateExport = jest.fn(async (request: ExportRequest) => ({
      problems: problemsOf(request)
    }));
    const exportJob = jest.fn();
    const { host, unmount } = renderFlow({ validateExport, exportJob });
    await settle();
    await pause();
    expect(validateExport).toHaveBeenCalledTimes(1); // when the dialog opens
    act(() =>
      (
        host.querySelector(
          'input[name=target][value="kubernetes"]'
        ) as HTMLInputElement
      ).click()
    );
    typeInto(input(host, 'schedule'), 'bad cron');
    typeInto(input(host, 'memory'), 'lots');
    // Typing is not checked on every key: once it pauses.
    const calls = validateExport.mock.calls.length;
    await pause();
    expect(validateExport.mock.calls.length).toBe(calls + 1);
    expect(errorOf(host, 'schedule')).toBe(
      "'bad' is not a valid cron expression."
    );
    expect(errorOf(host, 'memory')).toBe(
      "'lots' is not a positive Kubernetes quantity."
    );
    expect(input(host, 'schedule').getAttribute('aria-invalid')).toBe('true');

    // The edited field's problem goes at once; the other one stays.
    typeInto(input(host, 'schedule'), '@daily');
    expect(errorOf(host, 'schedule')).toBeNull();
    expect(errorOf(host, 'memory')).toContain('lots');
    await pause();
    expect(errorOf(host, 'schedule')).toBeNull();
    expect(errorOf(host, 'memory')).toContain('lots');

    // Export asks first, and exports nothing while a problem is left.
    act(() => exportButton(host).click());
    await settle();
    expect(exportJob).not.toHaveBeenCalled();
    expect(host.querySelector('.jp-mlops-ErrorCard')).toBeNull();
    unmount();
  });

  it("puts an export refusal's fields beside them, with no raw banner nor Retry", async () => {
    const validateExport = jest.fn().mockResolvedValue({ problems: [] });
    const exportJob = jest
      .fn()
      .mockRejectedValueOnce(
        new MlopsApiError(
          "Field 'name': invalid job name 'x'. The notebook is broken.",
          400,
          'invalid_export',
          [],
          [
            { field: 'name', message: 'The folder pipelines/x is taken.' },
            { field: 'notebook', message: "Parameter 'lr': not a literal." }
          ]
        )
      )
      .mockRejectedValueOnce(
        new MlopsApiError(
          'Internal error in jupyter-mlops.',
          500,
          'internal_error'
        )
      )
      .mockRejectedValueOnce(
        new MlopsApiError('Cannot reach the Jupyter server', 0, 'network_error')
      );
    const { host, unmount } = renderFlow({ validateExport, exportJob });
    await settle();
    act(() => exportButton(host).click());
    await settle();
    expect(exportJob).toHaveBeenCalledTimes(1);
    expect(errorOf(host, 'name')).toBe('The folder pipelines/x is taken.');
    expect(errorOf(host, 'notebook')).toBe("Parameter 'lr': not a literal.");
    expect(host.querySelector('.jp-mlops-ErrorCard')).toBeNull();
    expect(host.textContent).not.toContain("Field 'name'");

    // A server error that is about no field: the card, and no Retry that cannot help.
    act(() => exportButton(host).click());
    await settle();
    const card = () => host.querySelector('.jp-mlops-ErrorCard');
    expect(card()!.textContent).toContain('Internal error');
    expect(card()!.querySelector('button')).toBeNull();

    // The network failed: Retry may succeed.
    act(() => exportButton(host).click());
    await settle();
    expect(card()!.textContent).toContain('Cannot reach');
    expect(card()!.querySelector('button')!.textContent).toBe('Retry');
    unmount();
  });

  it('starts from the options kept for the notebook and reports each change', async () => {
    const validateExport = jest.fn().mockResolvedValue({ problems: [] });
    const kept = initialExportValues('work/train.ipynb');
    kept.name = 'nightly';
    kept.targets = ['docker', 'argo', 'gone'];
    kept.deployment.schedule = '@daily';
    const onValuesChange = jest.fn();
    const { host, unmount } = renderFlow(
      { validateExport },
      { initialValues: kept, onValuesChange }
    );
    await settle();
    expect(input(host, 'name').value).toBe('nightly');
    expect(input(host, 'schedule').value).toBe('@daily');
    const checkedTargets = Array.from(
      host.querySelectorAll('input[name=target]:checked'),
      box => (box as HTMLInputElement).value
    );
    expect(checkedTargets).toEqual(['argo', 'docker']); // 'gone' is no longer a target
    typeInto(input(host, 'name'), 'nightly-2');
    expect(onValuesChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ name: 'nightly-2' })
    );
    unmount();
  });
});

describe('export dialog targets', () => {
  const exportButton = (host: HTMLElement) =>
    host.querySelector('button.jp-mlops-export-primary') as HTMLButtonElement;
  const targetBox = (host: HTMLElement, name: string) =>
    host.querySelector(
      `input[name=target][value="${name}"]`
    ) as HTMLInputElement | null;

  function renderFlow(exportTargets: jest.Mock) {
    const client = { exportTargets } as unknown as MlopsClient;
    return mount(
      React.createElement(ExportFlow, {
        client,
        notebook: 'work/train.ipynb',
        trans,
        actions: {
          openPath: () => undefined,
          openFolder: () => undefined,
          changed: () => undefined
        },
        prepare: async () => undefined
      })
    );
  }

  it("waits for the server's list, then shows its targets", async () => {
    const answer = deferred<{ targets: ExportTargetInfo[] }>();
    const exportTargets = jest.fn().mockReturnValue(answer.promise);
    const { host, unmount } = renderFlow(exportTargets);
    expect(exportTargets).toHaveBeenCalledTimes(1);
    expect(host.querySelector('[role=status]')!.textContent).toContain(
      'Loading the export targets'
    );
    expect(host.querySelector('fieldset[aria-busy=true]')).not.toBeNull();
    expect(targetBox(host, 'docker')).toBeNull();
    expect(exportButton(host).disabled).toBe(true);

    answer.resolve({ targets: TARGETS });
    await settle();
    expect(exportButton(host).disabled).toBe(false);
    const names = Array.from(
      host.querySelectorAll('input[name=target]'),
      input => (input as HTMLInputElement).value
    );
    expect(names).toEqual(TARGETS.map(t => t.name));
    expect(targetBox(host, 'docker')!.checked).toBe(true);
    // A built-in target keeps its translated label; a plugin shows the server's words.
    const label = (name: string) => targetBox(host, name)!.closest('label')!;
    expect(label('kubernetes').textContent).toContain('a Job, or a CronJob');
    expect(label('nomad').textContent).toContain('Nomad job specification');
    expect(targetBox(host, 'broken')!.disabled).toBe(true);
    expect(label('broken').textContent).toContain('Unavailable');
    expect(label('broken').textContent).toContain('cannot be loaded');

    // A plugin orchestrator asks for the deployment options.
    const orchestrator = () =>
      host.querySelector('[data-testid=mlops-export-orchestrator]');
    expect(orchestrator()).toBeNull();
    act(() => targetBox(host, 'nomad')!.click());
    expect(targetBox(host, 'nomad')!.checked).toBe(true);
    expect(orchestrator()).not.toBeNull();
    act(() => targetBox(host, 'nomad')!.click());
    expect(orchestrator()).toBeNull();
    unmount();
  });

  it('says when the targets cannot be listed, and tries again', async () => {
    const exportTargets = jest
      .fn()
      .mockRejectedValueOnce(
        new MlopsApiError('Cannot reach the Jupyter server', 0, 'network_error')
      )
      .mockResolvedValueOnce({ targets: TARGETS });
    const { host, unmount } = renderFlow(exportTargets);
    await settle();
    const card = host.querySelector('.jp-mlops-ErrorCard')!;
    expect(card.textContent).toContain(
      'The export targets cannot be listed: Cannot reach the Jupyter server'
    );
    expect(exportButton(host).disabled).toBe(true);
    expect(targetBox(host, 'docker')).toBeNull();

    const retry = card.querySelector('button')!;
    expect(retry.type).toBe('button'); // not a submit of the export form
    act(() => retry.click());
    await settle();
    expect(exportTargets).toHaveBeenCalledTimes(2);
    expect(host.querySelector('.jp-mlops-ErrorCard')).toBeNull();
    expect(targetBox(host, 'docker')!.checked).toBe(true);
    expect(exportButton(host).disabled).toBe(false);
    unmount();
  });
  describe('pinned data', () => {
    it('lists each pinned path with its version and where it comes from', () => {
      const { host, unmount } = mount(
        React.createElement(PinnedData, {
          trans,
          pins: [
            {
              path: 'data/train.csv',
              md5: '0123456789abcdef0123456789abcdef',
              size: 2048,
              nfiles: null,
              remote_url: 's3://bucket/dvc'
            },
            {
              path: 'data/images',
              md5: 'fedcba9876543210fedcba9876543210.dir',
              size: null,
              nfiles: 3,
              remote_url: null
            }
          ]
        })
      );
      const items = Array.from(host.querySelectorAll('li')).map(
        li => li.textContent
      );
      expect(items[0]).toContain('data/train.csv');
      expect(items[0]).toContain('01234567');
      expect(items[0]).toContain('pulled from s3://bucket/dvc when missing');
      expect(items[1]).toContain('3 files');
      expect(items[1]).toContain('no DVC remote');
      unmount();
    });
  });
});
