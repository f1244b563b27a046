import { MlopsClient } from '../api/client';
import { MlopsApiError } from '../api/request';
import type {
  ExperimentsResponse,
  IExperimentsQuery,
  StatusResponse
} from '../api/types';
import { MlopsModel } from '../model';
import { FRONTEND_VERSION } from '../version';

/** A client answering from memory, to drive the model without a server. */
class MemoryClient extends MlopsClient {
  queries: IExperimentsQuery[] = [];
  failStatus: MlopsApiError | null = null;
  serverVersion = FRONTEND_VERSION;

  async status(): Promise<StatusResponse> {
    if (this.failStatus) {
      throw this.failStatus;
    }
    return {
      version: this.serverVersion,
      python: '3.11.7',
      packages: { mlflow: '3.17.2' },
      tracking: {
        uri: 'sqlite:////p/.mlops/mlflow.db',
        kind: 'embedded',
        source: 'default',
        reachable: true,
        error: null,
        ui_url: null
      },
      project: {
        root: '/p',
        git: true,
        git_branch: 'main',
        git_commit: 'abc',
        dvc: false
      },
      container_engine: {
        docker_host: 'unix:///var/run/docker.sock',
        reachable: false,
        name: null,
        version: null,
        error: 'no socket'
      }
    };
  }

  async experiments(
    query: IExperimentsQuery = {}
  ): Promise<ExperimentsResponse> {
    this.queries.push(query);
    const all = ['Default', 'churn', 'churn-v2'];
    return {
      tracking_uri: 'sqlite:////p/.mlops/mlflow.db',
      experiments: all
        .filter(name => !query.search || name.includes(query.search))
        .map((name, i) => ({
          experiment_id: String(i),
          name,
          lifecycle_stage: 'active',
          artifact_location: null,
          creation_time: 0,
          last_update_time: 0,
          run_count: i,
          run_count_capped: false,
          tags: {}
        }))
    };
  }
}

describe('MlopsModel', () => {
  it('loads status and experiments and signals each change', async () => {
    const client = new MemoryClient();
    const model = new MlopsModel(client);
    let changes = 0;
    model.changed.connect(() => changes++);
    await model.refresh();
    expect(model.status?.tracking.kind).toBe('embedded');
    expect(model.experiments.map(e => e.name)).toEqual([
      'Default',
      'churn',
      'churn-v2'
    ]);
    expect(model.loading).toBe(false);
    expect(model.versionMismatch).toBe(false);
    expect(changes).toBeGreaterThan(0);
    model.dispose();
  });

  it('asks the server to filter and passes the configured limits', async () => {
    const client = new MemoryClient();
    const model = new MlopsModel(client);
    await model.configure({
      refreshInterval: 0,
      maxExperiments: 7,
      includeDeleted: true
    });
    await model.start();
    await model.setSearch('churn');
    expect(model.experiments.map(e => e.name)).toEqual(['churn', 'churn-v2']);
    expect(client.queries[client.queries.length - 1]).toEqual({
      search: 'churn',
      max_results: 7,
      include_deleted: true
    });
    model.dispose();
  });

  it('keeps errors apart per section and clears them on success', async () => {
    const client = new MemoryClient();
    client.failStatus = new MlopsApiError('down', 503, 'service_unavailable');
    const model = new MlopsModel(client);
    await model.refresh();
    expect(model.statusError?.code).toBe('service_unavailable');
    expect(model.experimentsError).toBeNull();
    client.failStatus = null;
    await model.refreshStatus();
    expect(model.statusError).toBeNull();
    model.dispose();
  });

  it('notices a server extension of another version', async () => {
    const client = new MemoryClient();
    client.serverVersion = '99.0.0';
    const model = new MlopsModel(client);
    await model.refreshStatus();
    expect(model.versionMismatch).toBe(true);
    model.dispose();
  });
});
