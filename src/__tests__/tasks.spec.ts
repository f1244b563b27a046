import {
  DataClient,
  type DataPaths,
  type DataTask,
  type DataTasks
} from '../api/data';
import { MlopsApiError } from '../api/request';
import type { TaskRecord } from '../api/types';
import { DataModel } from '../data/model';
import { buildStateOfTask } from '../export/build';
import { TaskModel } from '../tasks/model';

/** A task record as `GET tasks/{id}` answers it. */
function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    task_id: 'a'.repeat(32),
    kind: 'build',
    state: 'running',
    phase: 'building',
    done: 0,
    total: 0,
    unit: 'steps',
    started: 1,
    finished: null,
    request: { job: 'pipelines/train' },
    result: null,
    error: null,
    log: [],
    cancellable: true,
    ...overrides
  };
}

describe('TaskModel', () => {
  it('follows a task until it ends, telling the views at each answer', async () => {
    const answers = [
      record({ done: 1, total: 3 }),
      record({ done: 2, total: 3 }),
      record({
        state: 'done',
        phase: 'done',
        done: 3,
        total: 3,
        result: { x: 1 }
      })
    ];
    const asked: string[] = [];
    const model = new TaskModel({
      task: record(),
      fetch: async id => {
        asked.push(id);
        return answers.shift()!;
      },
      interval: 1
    });
    const seen: number[] = [];
    model.changed.connect(() => seen.push(model.task.done));
    const done = await model.follow();
    expect(done.state).toBe('done');
    expect(done.result).toEqual({ x: 1 });
    expect(seen).toEqual([1, 2, 3]);
    expect(asked).toEqual(['a'.repeat(32), 'a'.repeat(32), 'a'.repeat(32)]);
    expect(model.running).toBe(false);
    expect(model.polling).toBe(false); // no look after the end
    model.dispose();
  });

  it('resolves at once for a task that already ended', async () => {
    const fetch = jest.fn();
    const model = new TaskModel({
      task: record({ state: 'failed', error: { message: 'no', code: 'x' } }),
      fetch
    });
    expect((await model.follow()).state).toBe('failed');
    expect(fetch).not.toHaveBeenCalled();
    model.dispose();
  });

  it('retries a failed look, and stops on a 4xx', async () => {
    let calls = 0;
    const model = new TaskModel({
      task: record(),
      fetch: async () => {
        calls++;
        if (calls === 1) {
          throw new MlopsApiError('network down', 0, 'network_error');
        }
        throw new MlopsApiError('No task.', 404, 'no_such_task');
      },
      interval: 1
    });
    await expect(model.follow()).rejects.toMatchObject({
      code: 'no_such_task'
    });
    expect(calls).toBe(2);
    expect(model.error?.status).toBe(404);
    model.dispose();
  });

  it('cancels through the server and ends cancelled', async () => {
    let cancelled = false;
    const model = new TaskModel({
      task: record(),
      fetch: async () =>
        cancelled
          ? record({
              state: 'cancelled',
              error: { message: 'Interrupted', code: 'cancelled' }
            })
          : record(),
      cancel: async () => {
        cancelled = true;
        return record();
      },
      interval: 1
    });
    const ended = model.follow();
    await model.cancel();
    expect((await ended).state).toBe('cancelled');
    model.dispose();
  });

  it('rejects the follower when disposed while the task runs', async () => {
    const model = new TaskModel({
      task: record(),
      fetch: async () => record(),
      interval: 1000
    });
    const ended = model.follow();
    model.dispose();
    await expect(ended).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('buildStateOfTask', () => {
  it('shows a running build task as the streamed build did', () => {
    const state = buildStateOfTask(
      record({
        done: 2,
        total: 5,
        log: [
          'Step 1/5: FROM python',
          'Step 2/5: RUN pip install x',
          'Collecting x'
        ]
      })
    );
    expect(state.phase).toBe('building');
    expect([state.step, state.total]).toEqual([2, 5]);
    expect(state.instruction).toBe('RUN pip install x');
    expect(state.log).toHaveLength(3);
  });

  it('shows the build of a finished task, and the error of a failed one', () => {
    const build = { image: 'train:latest', size: 1, seconds: 1, steps: 5 };
    const done = buildStateOfTask(
      record({ state: 'done', phase: 'done', done: 5, total: 5, result: build })
    );
    expect(done.phase).toBe('done');
    expect(done.build).toEqual(build);
    const failed = buildStateOfTask(
      record({
        state: 'interrupted',
        error: {
          message: 'Interrupted: the server stopped',
          code: 'interrupted'
        }
      })
    );
    expect(failed.phase).toBe('failed');
    expect(failed.error).toEqual({
      message: 'Interrupted: the server stopped',
      code: 'interrupted'
    });
  });
});

describe('DataModel after a reload', () => {
  /** A server with a push still running, started before the page was loaded. */
  class RunningPushClient extends DataClient {
    looks = 0;
    async tasks(): Promise<DataTasks> {
      return { tasks: [dataTask({ state: 'running', phase: 'pushing' })] };
    }
    async task(taskId: string): Promise<DataTask> {
      this.looks++;
      return this.looks < 2
        ? dataTask({ task_id: taskId, state: 'running', done: 1 })
        : dataTask({ task_id: taskId, state: 'done', phase: 'done', done: 2 });
    }
    async paths(): Promise<DataPaths> {
      return {
        paths: [],
        dvc_available: true,
        dvc_version: '3',
        warnings: []
      } as any;
    }
    waitForTask(
      started: DataTask,
      onProgress?: (task: DataTask) => void
    ): Promise<DataTask> {
      return super.waitForTask(started, onProgress, 1);
    }
  }

  function dataTask(overrides: Partial<DataTask> = {}): DataTask {
    return {
      task_id: 'b'.repeat(32),
      kind: 'push',
      state: 'running',
      phase: 'pushing',
      done: 0,
      total: 2,
      unit: 'files',
      started: 1,
      finished: null,
      ...overrides
    } as DataTask;
  }

  it('follows the operation still running on the server when the section shows', async () => {
    const client = new RunningPushClient();
    const model = new DataModel(client, async () => false, 60);
    const states: string[] = [];
    model.changed.connect(() => {
      if (model.task) {
        states.push(`${model.task.state}:${model.task.done}`);
      }
    });
    model.setVisible(true);
    for (let i = 0; i < 100 && model.task?.state !== 'done'; i++) {
      await new Promise(resolve => setTimeout(resolve, 5));
    }
    expect(model.task?.state).toBe('done');
    expect(states[0]).toBe('running:0');
    expect(states).toContain('running:1');
    expect(model.busy).toBe(false);
    model.dispose();
  });
});
