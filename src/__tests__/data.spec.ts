import {
  DataClient,
  bytesText,
  shortMd5,
  taskPercent,
  type DataHistory,
  type DataPaths,
  type DataTask,
  type RestoreRequest,
  type TransferRequest
} from '../api/data';
import { MlopsApiError } from '../api/request';
import { DataModel } from '../data/model';

function task(overrides: Partial<DataTask> = {}): DataTask {
  return {
    task_id: 'a'.repeat(32),
    kind: 'restore',
    state: 'running',
    phase: 'checkout',
    done: 0,
    total: 0,
    unit: 'files',
    started: 1,
    finished: null,
    snapshot: null,
    restore: null,
    transfer: null,
    error: null,
    ...overrides
  };
}

/** A Data API answering from memory: tasks finish after two polls. */
class MemoryDataClient extends DataClient {
  restores: RestoreRequest[] = [];
  pushes: TransferRequest[] = [];
  polls = 0;
  localChanges = false;
  failPush = false;

  async paths(): Promise<DataPaths> {
    return {
      root: '/p',
      dvc: true,
      dvc_root: '/p',
      git: false,
      cache_dir: '/p/.dvc/cache',
      cache_types: ['reflink', 'copy'],
      remotes: [{ name: 'store', url: '/remote', default: true }],
      paths: [
        {
          path: 'data',
          dvc_file: 'data.dvc',
          kind: 'folder',
          md5: 'b'.repeat(32) + '.dir',
          size: 2048,
          nfiles: 2,
          workspace: 'modified',
          in_cache: true,
          pushed: null,
          versions: 2,
          last_snapshot: 1
        }
      ]
    };
  }

  async history(path: string): Promise<DataHistory> {
    return {
      path,
      kind: 'folder',
      dvc_file: `${path}.dvc`,
      runs_error: null,
      versions: []
    };
  }

  async restore(request: RestoreRequest): Promise<DataTask> {
    this.restores.push(request);
    if (this.localChanges && !request.force) {
      throw new MlopsApiError(
        'data has changes that no snapshot holds (1 file(s): a.csv)',
        409,
        'local_changes'
      );
    }
    return task();
  }

  async push(request: TransferRequest = {}): Promise<DataTask> {
    this.pushes.push(request);
    return task({ kind: 'push', phase: 'pushing' });
  }

  async task(taskId: string): Promise<DataTask> {
    this.polls++;
    const kind = this.pushes.length ? 'push' : 'restore';
    if (this.polls < 2) {
      return task({ task_id: taskId, kind, done: 1, total: 2 });
    }
    if (kind === 'push' && this.failPush) {
      return task({
        task_id: taskId,
        kind,
        state: 'failed',
        error: {
          message: "DVC remote 'store' is not reachable",
          code: 'remote_unavailable'
        }
      });
    }
    return task({ task_id: taskId, kind, state: 'done', phase: 'done' });
  }

  waitForTask(
    started: DataTask,
    onProgress?: (task: DataTask) => void
  ): Promise<DataTask> {
    return super.waitForTask(started, onProgress, 1);
  }
}

describe('DataModel', () => {
  it('asks before a restore would lose local changes, then forces it', async () => {
    const client = new MemoryDataClient();
    client.localChanges = true;
    const asked: string[] = [];
    const model = new DataModel(client, async message => {
      asked.push(message);
      return true;
    });
    const progress: number[] = [];
    model.changed.connect(() => {
      if (model.task) {
        progress.push(model.task.done);
      }
    });
    const done = await model.restore('data', 'c'.repeat(32) + '.dir');
    expect(done?.state).toBe('done');
    expect(asked).toEqual([
      'data has changes that no snapshot holds (1 file(s): a.csv)'
    ]);
    expect(client.restores.map(r => r.force)).toEqual([false, true]);
    expect(progress).toContain(1);
    expect(model.busy).toBe(false);
    expect(model.paths?.paths[0].path).toBe('data');
  });

  it('does nothing when the person keeps their changes', async () => {
    const client = new MemoryDataClient();
    client.localChanges = true;
    const model = new DataModel(client, async () => false);
    expect(await model.restoreRun('d'.repeat(32))).toBeNull();
    expect(client.restores).toEqual([{ run_id: 'd'.repeat(32), force: false }]);
    expect(model.taskError).toBeNull();
  });

  it('reports a failed push with the server message', async () => {
    const client = new MemoryDataClient();
    client.failPush = true;
    const model = new DataModel(client, async () => true);
    expect(await model.push()).toBeNull();
    expect(model.taskError?.code).toBe('remote_unavailable');
    expect(model.taskError?.message).toContain('not reachable');
  });

  it('loads the history of the path it opens', async () => {
    const model = new DataModel(new MemoryDataClient(), async () => true);
    await model.select('data');
    expect(model.selected).toBe('data');
    expect(model.history?.dvc_file).toBe('data.dvc');
    await model.select(null);
    expect(model.history).toBeNull();
  });
});

describe('data formatting', () => {
  it('writes sizes, md5s and progress', () => {
    expect(bytesText(512)).toBe('512 B');
    expect(bytesText(3 * 1024 * 1024 * 1024)).toBe('3.0 GiB');
    expect(bytesText(null)).toBe('');
    expect(shortMd5('0123456789abcdef0123456789abcdef.dir')).toBe(
      '0123456789.dir'
    );
    expect(shortMd5('0123456789abcdef0123456789abcdef')).toBe('0123456789');
    expect(taskPercent(task({ done: 1, total: 4 }))).toBe(25);
    expect(taskPercent(task({ done: 5, total: 0 }))).toBeNull();
  });
});

describe('DataModel follows the data while visible', () => {
  /** Paths whose workspace state the test changes, counting the calls. */
  class ChangingClient extends DataClient {
    calls = 0;
    workspace: 'unchanged' | 'modified' = 'unchanged';
    async paths(): Promise<DataPaths> {
      this.calls++;
      return {
        root: '/p',
        dvc: true,
        dvc_root: '/p',
        git: false,
        cache_dir: null,
        cache_types: [],
        remotes: [],
        paths: [
          {
            path: 'data.csv',
            dvc_file: 'data.csv.dvc',
            kind: 'file',
            md5: 'c'.repeat(32),
            size: 10,
            nfiles: null,
            workspace: this.workspace,
            in_cache: true,
            pushed: null,
            versions: 1,
            last_snapshot: 1
          }
        ]
      };
    }
  }

  const tick = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

  it('shows a change on disk without refresh, and stops when hidden', async () => {
    const client = new ChangingClient();
    const model = new DataModel(client, async () => false, 0.05);
    let renders = 0;
    model.changed.connect(() => renders++);
    expect(model.following).toBe(false);
    await tick(120);
    expect(client.calls).toBe(0); // not visible: never asked

    model.setVisible(true);
    await tick(30);
    expect(model.paths?.paths[0].workspace).toBe('unchanged');
    const rendersAfterFirst = renders;
    await tick(150); // looks again, nothing new: no render
    expect(client.calls).toBeGreaterThan(1);
    expect(renders).toBe(rendersAfterFirst);

    client.workspace = 'modified';
    await tick(150);
    expect(model.paths?.paths[0].workspace).toBe('modified');

    model.setVisible(false);
    await tick(20);
    const calls = client.calls;
    await tick(200);
    expect(client.calls).toBe(calls);
    model.dispose();
  });
});
