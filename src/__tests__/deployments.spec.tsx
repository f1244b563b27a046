import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  DeploymentsClient,
  IDeployment,
  IDeploymentRun
} from '../api/deployments';
import { MonitoringClient, MonitoringHistory } from '../api/monitoring';
import { MlopsApiError } from '../api/request';
import { MlopsClient } from '../api/client';
import type { JobInfo, TaskRecord } from '../api/types';
import { DeployForm } from '../components/DeployDialog';
import { DeploymentsView } from '../components/DeploymentsView';
import { MonitoringView } from '../components/MonitoringView';
import { ACTIVE_INTERVAL, DeploymentsModel } from '../deployments/model';
import { createMonitoringWidget } from '../deployments/widgets';
import { runForm, serverErrors } from '../export/runForm';
import { monitoringSeries } from '../monitoring/series';
import { act, mount, settle } from './react';

// uPlot draws on a canvas, which jsdom has not: the charts are listed, not drawn.
jest.mock('../components/Chart', () => ({
  Chart: (props: { series: { label: string; points: unknown[] }[] }) =>
    (jest.requireActual('react') as typeof React).createElement('div', {
      className: 'chart-stub',
      'data-series': JSON.stringify(props.series.map(s => [s.label, s.points]))
    })
}));

const trans = nullTranslator.load('jupyter_mlops');
const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/'
});

function run(overrides: Partial<IDeploymentRun> = {}): IDeploymentRun {
  return {
    run_id: 'manual__1',
    state: 'success',
    start: '2026-12-06T05:00:00+00:00',
    end: '2026-12-06T05:00:12+00:00',
    duration: 12,
    try_number: 1,
    parameters: {},
    mlflow_run_id: null,
    output: null,
    failed_cell: null,
    error: null,
    ...overrides
  };
}

function deployment(overrides: Partial<IDeployment> = {}): IDeployment {
  return {
    name: 'train-daily',
    job: 'pipelines/train',
    engine: 'airflow',
    url: 'http://127.0.0.1:8080',
    dag_id: 'train-daily',
    image: 'train:latest',
    deployed_at: '2026-12-06T04:00:00+00:00',
    deployed_by: 'me',
    schedule: '@daily',
    paused: false,
    latest_runs: [run()],
    ...overrides
  };
}

type Answer = { status?: number; body: unknown };

/** A fake server: each request `METHOD path` is answered by `routes`, and recorded. */
function serve(routes: Record<string, (body: any) => Answer>): string[] {
  const asked: string[] = [];
  jest
    .spyOn(ServerConnection, 'makeRequest')
    .mockImplementation(async (url: string, init: RequestInit) => {
      const path = url.replace('http://localhost:8888/jupyter-mlops/', '');
      const key = `${init.method ?? 'GET'} ${decodeURIComponent(path)}`;
      asked.push(key);
      const handler = routes[key];
      if (!handler) {
        return new Response(
          JSON.stringify({ message: `no route ${key}`, code: 'no_route' }),
          { status: 404 }
        );
      }
      const answer = handler(init.body ? JSON.parse(String(init.body)) : null);
      return new Response(JSON.stringify(answer.body), {
        status: answer.status ?? 200
      });
    });
  return asked;
}

afterEach(() => jest.restoreAllMocks());

describe('DeploymentsModel', () => {
  it('reads every deployment with one request per refresh, and the open one’s runs only when they changed', async () => {
    let latest = [run()];
    const asked = serve({
      'GET deployments': () => ({
        body: {
          deployments: [
            deployment({ latest_runs: latest }),
            deployment({ name: 'other' })
          ],
          engine_errors: [
            { engine: 'airflow', url: 'http://x:1', message: 'unreachable' }
          ]
        }
      }),
      'GET deployments/train-daily/runs': () => ({ body: { runs: latest } })
    });
    const model = new DeploymentsModel(new DeploymentsClient(settings));
    await model.refresh();
    expect(asked).toEqual(['GET deployments']);
    expect(model.deployments.map(d => d.name)).toEqual([
      'train-daily',
      'other'
    ]);
    expect(model.engineErrors[0].message).toBe('unreachable');

    await model.select('train-daily');
    expect(asked.slice(1)).toEqual(['GET deployments/train-daily/runs']);
    expect(model.runs).toHaveLength(1);

    asked.length = 0;
    await model.refresh(); // nothing new: no second request
    await settle();
    expect(asked).toEqual(['GET deployments']);

    asked.length = 0;
    latest = [run({ run_id: 'scheduled__2', state: 'running' }), run()];
    await model.refresh(); // a new run: the open deployment's runs are read again
    await settle();
    expect(asked).toEqual([
      'GET deployments',
      'GET deployments/train-daily/runs'
    ]);
    expect(model.runs!.map(r => r.run_id)).toEqual([
      'scheduled__2',
      'manual__1'
    ]);
    // A run under way: the list is asked for more often.
    expect(model.pollInterval).toBe(ACTIVE_INTERVAL);
    model.dispose();
  });

  it('pauses and cancels, then shows the list again; a refusal is kept for the view', async () => {
    let paused = false;
    const asked = serve({
      'GET deployments': () => ({
        body: { deployments: [deployment({ paused })], engine_errors: [] }
      }),
      'GET deployments/train-daily/runs': () => ({ body: { runs: [] } }),
      'POST deployments/train-daily/pause': () => {
        paused = true;
        return { body: deployment({ paused }) };
      },
      'POST deployments/train-daily/runs/manual__1/cancel': () => ({
        status: 409,
        body: {
          message: 'The run manual__1 has ended already.',
          code: 'conflict'
        }
      })
    });
    const model = new DeploymentsModel(new DeploymentsClient(settings));
    await model.refresh();
    await model.select('train-daily');
    asked.length = 0;
    await model.pause('train-daily');
    expect(asked[0]).toBe('POST deployments/train-daily/pause');
    expect(model.deployments[0].paused).toBe(true);
    expect(model.actionError).toBeNull();

    await model.cancel('train-daily', 'manual__1');
    expect(model.actionError).toBeInstanceOf(MlopsApiError);
    expect(model.actionError!.message).toContain('ended already');
    expect(model.busy).toBeNull();
    model.dispose();
  });

  it('runs now with typed parameters; a refused value goes beside its field', async () => {
    const sent: unknown[] = [];
    serve({
      'GET deployments': () => ({
        body: { deployments: [deployment()], engine_errors: [] }
      }),
      'POST deployments/train-daily/runs': body => {
        sent.push(body);
        return {
          status: 400,
          body: {
            message: "parameters.epochs: 'many' is not an integer",
            code: 'invalid_body',
            fields: [
              {
                field: 'parameters.epochs',
                message: "'many' is not an integer"
              }
            ]
          }
        };
      }
    });
    const model = new DeploymentsModel(new DeploymentsClient(settings));
    const error = await model
      .trigger('train-daily', { epochs: 'many' })
      .catch(e => e);
    expect(sent).toEqual([{ parameters: { epochs: 'many' } }]);
    expect(error).toBeInstanceOf(MlopsApiError);
    const form = runForm(
      {
        type: 'object',
        properties: { epochs: { type: 'integer', default: 3 } }
      },
      trans
    );
    const { fields, others } = serverErrors(error, form);
    expect(fields).toEqual({
      epochs: { __errors: ["'many' is not an integer"] }
    });
    expect(others).toEqual([]);
    model.dispose();
  });
});

describe('DeploymentsView', () => {
  it('shows the latest runs as a strip and makes a failed run stand out with its failing cell', async () => {
    const failed = run({
      run_id: 'scheduled__3',
      state: 'failed',
      failed_cell: '[4] `raise ValueError("empty batch")`',
      error: 'ValueError: empty batch',
      output: 'pipelines/train/output/train-3.ipynb',
      mlflow_run_id: 'a'.repeat(32)
    });
    serve({
      'GET deployments': () => ({
        body: {
          deployments: [
            deployment({ latest_runs: [failed, run()], paused: true })
          ],
          engine_errors: []
        }
      }),
      'GET deployments/train-daily/runs': () => ({
        body: { runs: [failed, run()] }
      })
    });
    const model = new DeploymentsModel(new DeploymentsClient(settings));
    await model.refresh();
    const opened: string[] = [];
    const view = mount(
      <DeploymentsView
        model={model}
        trans={trans}
        actions={{
          openPath: path => opened.push(`path ${path}`),
          openRun: id => opened.push(`run ${id}`),
          openMonitoring: name => opened.push(`monitor ${name}`),
          jobs: async () => []
        }}
      />
    );
    const card = view.host.querySelector('[data-deployment="train-daily"]')!;
    expect(card.classList).toContain('jp-mlops-deploy-cardFailed');
    const dots = Array.from(card.querySelectorAll('.jp-mlops-deploy-dot'));
    // Oldest to newest.
    expect(dots.map(d => d.className)).toEqual([
      'jp-mlops-deploy-dot jp-mlops-deploy-success',
      'jp-mlops-deploy-dot jp-mlops-deploy-failed'
    ]);
    expect(card.textContent).toContain('paused');
    expect(card.textContent).toContain('Resume');

    await act(() => model.select('train-daily'));
    view.unmount();
    const again = mount(
      <DeploymentsView
        model={model}
        trans={trans}
        actions={{
          openPath: path => opened.push(`path ${path}`),
          openRun: id => opened.push(`run ${id}`),
          openMonitoring: name => opened.push(`monitor ${name}`),
          jobs: async () => []
        }}
      />
    );
    const row = again.host.querySelector('[data-run-id="scheduled__3"]')!;
    expect(row.classList).toContain('jp-mlops-deploy-runFailed');
    expect(
      row.querySelector('.jp-mlops-deploy-failure')!.textContent
    ).toContain('raise ValueError("empty batch")');
    const links = Array.from(row.querySelectorAll('a'));
    act(() => links.find(a => a.textContent === 'output')!.click());
    act(() => links.find(a => a.textContent === 'tracked run')!.click());
    expect(opened).toEqual([
      'path pipelines/train/output/train-3.ipynb',
      `run ${'a'.repeat(32)}`
    ]);
    again.unmount();
    model.dispose();
  });
});

const HISTORY: MonitoringHistory = {
  kind: 'job',
  name: 'train',
  metrics: ['accuracy', 'drift_share'],
  available_metrics: ['accuracy', 'drift_share', 'jupyter_mlops.duration_s'],
  truncated: false,
  successes: 2,
  failures: 1,
  runs: [
    {
      run_id: 'r1',
      experiment_id: '1',
      status: 'FINISHED',
      success: true,
      start_time: Date.UTC(2026, 11, 6, 5, 0),
      end_time: Date.UTC(2026, 11, 6, 5, 0, 10),
      duration: 10,
      metrics: { accuracy: 0.5, drift_share: 0.1 },
      deployment: null,
      engine_run_id: null,
      error: null
    },
    {
      run_id: 'r2',
      experiment_id: '1',
      status: 'FAILED',
      success: false,
      start_time: Date.UTC(2026, 11, 6, 6, 0),
      end_time: Date.UTC(2026, 11, 6, 6, 0, 4),
      duration: 4,
      metrics: { accuracy: 0.75 },
      deployment: 'train-daily',
      engine_run_id: 'scheduled__2',
      error: 'JobFailed: the batch is empty'
    },
    {
      run_id: 'r3',
      experiment_id: '1',
      status: 'FINISHED',
      success: true,
      start_time: Date.UTC(2026, 11, 6, 7, 0),
      end_time: Date.UTC(2026, 11, 6, 7, 0, 8),
      duration: 8,
      metrics: { accuracy: 0.8, drift_share: 0.4 },
      deployment: null,
      engine_run_id: null,
      error: null
    }
  ]
};

describe('monitoringSeries', () => {
  it('puts runs oldest to newest, outcome as two series of durations, the drift share apart', () => {
    const series = monitoringSeries(HISTORY, { succeeded: 'ok', failed: 'ko' });
    expect(series.categories).toHaveLength(3);
    expect(series.outcome).toEqual([
      {
        label: 'ok',
        points: [
          [0, 10],
          [2, 8]
        ]
      },
      { label: 'ko', points: [[1, 4]] }
    ]);
    expect(series.metrics).toEqual([
      {
        name: 'accuracy',
        series: [
          {
            label: 'accuracy',
            points: [
              [0, 0.5],
              [1, 0.75],
              [2, 0.8]
            ]
          }
        ]
      }
    ]);
    expect(series.drift).toEqual([
      {
        label: 'drift_share',
        points: [
          [0, 0.1],
          [2, 0.4]
        ]
      }
    ]);
    expect(series.lastSuccess).toBe(HISTORY.runs[2].start_time);
  });
});

describe('MonitoringView', () => {
  it('asks for the chosen metrics and charts them, failed runs in the error colour', async () => {
    const asked = serve({
      'GET monitoring/jobs/train?limit=200': () => ({ body: HISTORY }),
      'GET monitoring/jobs/train?metrics=drift_share&limit=200': () => ({
        body: { ...HISTORY, metrics: ['drift_share'] }
      })
    });
    const opened: string[] = [];
    const view = mount(
      <MonitoringView
        client={new MonitoringClient(settings)}
        kind="job"
        name="train"
        trans={trans}
        openRun={id => opened.push(id)}
      />
    );
    await settle();
    const summary = view.host.querySelector(
      '[data-testid="mlops-monitoring-summary"]'
    )!;
    expect(summary.textContent).toContain('3 runs');
    expect(summary.textContent).toContain('2 succeeded');
    expect(summary.textContent).toContain('1 failed');
    const charts = Array.from(view.host.querySelectorAll('section')).map(s =>
      s.getAttribute('aria-label')
    );
    expect(charts).toEqual(['Outcome and duration', 'drift_share', 'accuracy']);
    const rows = Array.from(view.host.querySelectorAll('tbody tr'));
    expect(rows.map(r => r.getAttribute('data-run-id'))).toEqual([
      'r3',
      'r2',
      'r1'
    ]);
    expect(rows[1].classList).toContain('jp-mlops-monitoring-failedRow');
    expect(rows[1].textContent).toContain('failed');
    act(() => rows[0].querySelector('a')!.click());
    expect(opened).toEqual(['r3']);

    // Unticking the only metric asks for none of them (the drift share still comes).
    const box = view.host.querySelector<HTMLInputElement>(
      '.jp-mlops-monitoring-metric input'
    )!;
    act(() => box.click());
    await settle();
    expect(asked).toEqual([
      'GET monitoring/jobs/train?limit=200',
      'GET monitoring/jobs/train?metrics=drift_share&limit=200'
    ]);
    view.unmount();
  });

  it('reads the runs again at the refresh interval, and stops once closed', async () => {
    const asked = serve({
      'GET monitoring/deployments/nightly?limit=200': () => ({ body: HISTORY })
    });
    const view = mount(
      <MonitoringView
        client={new MonitoringClient(settings)}
        kind="deployment"
        name="nightly"
        trans={trans}
        openRun={() => undefined}
        refreshInterval={0.05}
      />
    );
    await settle();
    await new Promise(resolve => setTimeout(resolve, 180));
    await settle();
    const count = asked.length;
    expect(count).toBeGreaterThanOrEqual(3);
    view.unmount();
    await new Promise(resolve => setTimeout(resolve, 150));
    expect(asked.length).toBe(count);
  });

  it('in an open tab, follows a change of the refresh interval in the settings', async () => {
    const asked = serve({
      'GET monitoring/jobs/train?limit=200': () => ({ body: HISTORY })
    });
    const tab = createMonitoringWidget(
      new MonitoringClient(settings),
      'job',
      'train',
      trans,
      () => undefined,
      0
    );
    await act(async () => Widget.attach(tab, document.body));
    await settle();
    await act(() => new Promise(resolve => setTimeout(resolve, 150)));
    await settle();
    expect(asked.length).toBe(1); // 0: read once, then only on demand

    await act(async () => {
      tab.content.refreshInterval = 0.05;
      MessageLoop.flush();
    });
    await act(() => new Promise(resolve => setTimeout(resolve, 300)));
    await settle();
    const count = asked.length;
    expect(count).toBeGreaterThanOrEqual(2); // read again without being asked

    await act(async () => {
      tab.content.refreshInterval = 0;
      MessageLoop.flush();
    });
    const stopped = asked.length;
    await act(() => new Promise(resolve => setTimeout(resolve, 150)));
    expect(asked.length).toBe(stopped);
    await act(async () => tab.dispose());
  });
});

function task(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    task_id: 'd'.repeat(32),
    kind: 'deploy',
    state: 'running',
    phase: 'waiting for the engine to parse the DAG',
    done: 0,
    total: 0,
    unit: '',
    started: 1,
    finished: null,
    request: {},
    result: null,
    error: null,
    log: [],
    cancellable: true,
    ...overrides
  };
}

describe('DeployForm', () => {
  const job = {
    name: 'train',
    path: 'pipelines/train',
    parameters: {}
  } as unknown as JobInfo;

  function fill(host: HTMLElement, id: string, value: string) {
    const input = host.querySelector<HTMLInputElement>(`#${id}`)!;
    const setter = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    act(() => {
      setter.call(input, value);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
  }

  it('deploys with the options typed and follows the task to its end', async () => {
    const sent: unknown[] = [];
    let looks = 0;
    const asked = serve({
      'POST deployments': body => {
        sent.push(body);
        return { status: 202, body: task() };
      },
      [`GET tasks/${'d'.repeat(32)}`]: () => {
        looks++;
        return {
          body: looks < 2 ? task() : task({ state: 'done', phase: 'deployed' })
        };
      }
    });
    let deployed = 0;
    const view = mount(
      <DeployForm
        client={new DeploymentsClient(settings)}
        tasks={new MlopsClient(settings)}
        job={job}
        trans={trans}
        onDeployed={() => deployed++}
        interval={1}
      />
    );
    fill(view.host, 'jp-mlops-deploy-schedule', '@daily');
    fill(view.host, 'jp-mlops-deploy-retries', '2');
    fill(view.host, 'jp-mlops-deploy-timeout', '2h');
    act(() =>
      view.host.querySelector<HTMLButtonElement>('button[type=submit]')!.click()
    );
    for (let i = 0; i < 20 && !deployed; i++) {
      await settle();
    }
    expect(sent).toEqual([
      {
        job: 'pipelines/train',
        engine: 'airflow',
        paused: true,
        options: { schedule: '@daily', retries: 2, timeout: '2h' }
      }
    ]);
    expect(deployed).toBe(1);
    expect(asked.filter(a => a.startsWith('GET tasks/')).length).toBe(2);
    expect(view.host.textContent).toContain('Deployed.');
    view.unmount();
  });

  it('shows a refused option beside its field, and a failed task as an error', async () => {
    let answer: Answer = {
      status: 400,
      body: {
        message: "options.schedule: '@sometimes' is not a cron line",
        code: 'invalid_body',
        fields: [
          {
            field: 'options.schedule',
            message: "'@sometimes' is not a cron line"
          }
        ]
      }
    };
    serve({
      'POST deployments': () => answer,
      [`GET tasks/${'d'.repeat(32)}`]: () => ({
        body: task({
          state: 'failed',
          error: {
            message: 'The DAG has import errors: No module named docker',
            code: 'dag_import_errors'
          }
        })
      })
    });
    const view = mount(
      <DeployForm
        client={new DeploymentsClient(settings)}
        tasks={new MlopsClient(settings)}
        job={job}
        trans={trans}
        onDeployed={() => undefined}
        interval={1}
      />
    );
    fill(view.host, 'jp-mlops-deploy-schedule', '@sometimes');
    const submit = () =>
      act(() =>
        view.host
          .querySelector<HTMLButtonElement>('button[type=submit]')!
          .click()
      );
    submit();
    await settle();
    const schedule = view.host.querySelector('#jp-mlops-deploy-schedule')!;
    expect(schedule.getAttribute('aria-invalid')).toBe('true');
    expect(
      view.host.querySelector('#jp-mlops-deploy-schedule-error')!.textContent
    ).toBe("'@sometimes' is not a cron line");
    expect(view.host.querySelector('[role=alert]')).toBeNull();

    answer = { status: 202, body: task() };
    fill(view.host, 'jp-mlops-deploy-schedule', '@daily');
    submit();
    for (let i = 0; i < 20 && !view.host.querySelector('[role=alert]'); i++) {
      await settle();
    }
    expect(view.host.querySelector('[role=alert]')!.textContent).toContain(
      'import errors'
    );
    expect(
      view.host.querySelector('#jp-mlops-deploy-schedule-error')
    ).toBeNull();
    view.unmount();
  });
});
