import * as React from 'react';

import { act, createRoot, settle } from './react';

import { MlopsClient } from '../api/client';
import { MlopsApiError } from '../api/request';
import type { JobExecution } from '../api/types';
import { IRequest, useRequest } from '../components/useRequest';
import { ExecutionModel } from '../export/model';
import { PollingModel } from '../polling';

const tick = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

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

describe('useRequest', () => {
  /** Renders `useRequest(() => fetch(id), [id])` and keeps what it returned last. */
  function renderRequest(fetch: (id: string) => Promise<string>, id: string) {
    (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
    const seen: { current: IRequest<string> | null } = { current: null };
    function Probe(props: { id: string }): null {
      const { id } = props;
      seen.current = useRequest(() => fetch(id), [id]);
      return null;
    }
    const host = document.createElement('div');
    const root = createRoot(host);
    act(() => root.render(React.createElement(Probe, { id })));
    return {
      seen,
      rerender: (next: string) =>
        act(() => root.render(React.createElement(Probe, { id: next }))),
      unmount: () => act(() => root.unmount())
    };
  }

  it('loads, then drops the answer of a request its dependencies replaced', async () => {
    const answers: Record<string, ReturnType<typeof deferred<string>>> = {
      a: deferred<string>(),
      b: deferred<string>()
    };
    const fetch = jest.fn((id: string) => answers[id].promise);
    const { seen, rerender, unmount } = renderRequest(fetch, 'a');
    expect(seen.current).toMatchObject({
      value: null,
      error: null,
      loading: true
    });

    rerender('b'); // before a's answer
    expect(fetch.mock.calls.map(call => call[0])).toEqual(['a', 'b']);
    answers.b.resolve('answer b');
    await settle();
    answers.a.resolve('answer a'); // late: dropped
    await settle();
    expect(seen.current).toMatchObject({
      value: 'answer b',
      error: null,
      loading: false
    });

    rerender('b'); // the same dependencies: no new request
    expect(fetch).toHaveBeenCalledTimes(2);
    unmount();
  });

  it('keeps the last value while asking again, and an answer after unmount is dropped', async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const fetch = jest
      .fn()
      .mockReturnValueOnce(first.promise)
      .mockReturnValueOnce(second.promise);
    const { seen, rerender, unmount } = renderRequest(fetch, 'a');
    first.resolve('one');
    await settle();
    rerender('b');
    expect(seen.current).toMatchObject({ value: 'one', loading: true });
    unmount();
    second.resolve('two');
    await settle();
    expect(seen.current?.value).toBe('one');
  });

  it('gives any failure as an MlopsApiError, and retry asks again', async () => {
    const fetch = jest
      .fn()
      .mockRejectedValueOnce(new TypeError('Failed to fetch'))
      .mockRejectedValueOnce(new MlopsApiError('No such run', 404, 'not_found'))
      .mockResolvedValueOnce('found');
    const { seen, unmount } = renderRequest(fetch, 'a');
    await settle();
    expect(seen.current?.error).toBeInstanceOf(MlopsApiError);
    expect(seen.current?.error?.code).toBe('client_error');
    expect(seen.current?.error?.message).toBe('Failed to fetch');

    act(() => seen.current!.retry());
    expect(seen.current).toMatchObject({ error: null, loading: true });
    await settle();
    expect(seen.current?.error?.code).toBe('not_found');

    act(() => seen.current!.retry());
    await settle();
    expect(seen.current).toMatchObject({
      value: 'found',
      error: null,
      loading: false
    });
    expect(fetch).toHaveBeenCalledTimes(3);
    unmount();
  });
});

/** A model whose looks fail while `failing` is set. */
class Counting extends PollingModel {
  looks: number[] = [];
  failing = false;

  constructor(interval: number, max?: number) {
    super({ name: 'jupyter-mlops:test', interval, max });
  }

  start(now = true): void {
    this.startPolling(now);
  }
  stop(): void {
    this.stopPolling();
  }
  now(): void {
    this.pollNow();
  }
  setInterval(interval: number): void {
    this.setPollInterval(interval);
  }

  protected async look(): Promise<void> {
    this.looks.push(Date.now());
    if (this.failing) {
      throw new Error('down');
    }
  }
}

describe('PollingModel', () => {
  it('looks at once and every interval once started, and not after it stopped', async () => {
    const model = new Counting(40);
    await tick(60);
    expect(model.looks).toHaveLength(0); // not started: never
    model.start();
    expect(model.polling).toBe(true);
    await tick(10);
    expect(model.looks).toHaveLength(1); // at once
    await tick(150);
    expect(model.looks.length).toBeGreaterThanOrEqual(3);
    model.stop();
    expect(model.polling).toBe(false);
    const looks = model.looks.length;
    await tick(120);
    expect(model.looks).toHaveLength(looks);
    model.dispose();
  });

  it('waits one interval first when told the model has just loaded', async () => {
    const model = new Counting(60);
    model.start(false);
    await tick(30);
    expect(model.looks).toHaveLength(0);
    await tick(60);
    expect(model.looks).toHaveLength(1);
    model.dispose();
  });

  it('backs off while looks fail, and comes back to the interval after one succeeds', async () => {
    const model = new Counting(20, 2000);
    model.failing = true;
    model.start();
    await tick(300);
    // Waits of 20, then up to 60, 180, ... ms: far fewer than one look per 20 ms.
    const failed = model.looks.length;
    expect(failed).toBeGreaterThanOrEqual(2);
    expect(failed).toBeLessThan(8);
    model.failing = false;
    model.now();
    await tick(10);
    const back = model.looks.length;
    await tick(200);
    expect(model.looks.length - back).toBeGreaterThanOrEqual(4);
    model.dispose();
  });

  it('moves the next look to a new interval at once, and stops for good when disposed', async () => {
    const model = new Counting(10 * 1000);
    model.start();
    await tick(10);
    expect(model.looks).toHaveLength(1);
    model.setInterval(30);
    expect(model.pollInterval).toBe(30);
    await tick(150);
    expect(model.looks.length).toBeGreaterThanOrEqual(3);
    model.dispose();
    expect(model.isDisposed).toBe(true);
    const looks = model.looks.length;
    await tick(100);
    expect(model.looks).toHaveLength(looks);
  });
});

describe('ExecutionModel', () => {
  const running: JobExecution = {
    execution_id: 'a'.repeat(32),
    job: 'pipelines/train',
    status: 'running',
    exit_code: null,
    in_container: false,
    started_at: '2026-11-02T10:00:00+00:00',
    ended_at: null,
    output: 'pipelines/train/output.ipynb',
    log: ''
  };
  const succeeded: JobExecution = {
    ...running,
    status: 'succeeded',
    exit_code: 0,
    ended_at: '2026-11-02T10:01:00+00:00',
    log: 'done\n'
  };

  it('follows a running execution to its end, says so once, then stops asking', async () => {
    const jobExecution = jest
      .fn()
      .mockResolvedValueOnce({ ...running, log: 'epoch 1\n' })
      .mockResolvedValue(succeeded);
    const client = { jobExecution } as unknown as MlopsClient;
    const model = new ExecutionModel(client, running, 20);
    const finished: JobExecution[] = [];
    model.finished.connect((_, execution) => finished.push(execution));
    await tick(30);
    expect(model.execution.log).toBe('epoch 1\n');
    await tick(60);
    expect(model.execution.status).toBe('succeeded');
    expect(finished.map(e => e.status)).toEqual(['succeeded']);
    const asked = jobExecution.mock.calls.length;
    await tick(80);
    expect(jobExecution).toHaveBeenCalledTimes(asked);
    expect(model.polling).toBe(false);
    model.dispose();
  });

  it('keeps an error for the view until an answer comes, and asks at once on retry', async () => {
    const jobExecution = jest
      .fn()
      .mockRejectedValueOnce(new TypeError('Failed to fetch'))
      .mockResolvedValue(succeeded);
    const client = { jobExecution } as unknown as MlopsClient;
    const model = new ExecutionModel(client, running, 20);
    await tick(30);
    expect(model.error?.code).toBe('client_error');
    expect(model.execution.status).toBe('running');
    model.retry();
    expect(model.error).toBeNull();
    await tick(10);
    expect(model.execution.status).toBe('succeeded');
    model.dispose();
  });

  it('does not ask about an execution that is over, and follows the next one given', async () => {
    const jobExecution = jest.fn().mockResolvedValue(succeeded);
    const client = { jobExecution } as unknown as MlopsClient;
    const model = new ExecutionModel(client, succeeded);
    expect(model.polling).toBe(false);
    model.follow({ ...succeeded }); // the same execution: kept
    expect(model.polling).toBe(false);
    model.follow({ ...running, execution_id: 'b'.repeat(32) });
    expect(model.execution.execution_id).toBe('b'.repeat(32));
    expect(model.polling).toBe(true);
    model.dispose();
  });
});
