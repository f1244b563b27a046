/**
 * Deploying a job from JupyterLab: `POST deployments` starts a task (kind `deploy`) that
 * the one task model follows to its end, as every long operation is followed.
 */
import type { DeploymentsClient, IDeployRequest } from '../api/deployments';
import { MlopsApiError } from '../api/request';
import type { TaskRecord } from '../api/types';
import { TaskModel } from '../tasks/model';

export interface IDeployTaskApi {
  task: (taskId: string) => Promise<TaskRecord>;
  cancelTask: (taskId: string) => Promise<TaskRecord>;
}

/**
 * Deploy and follow the task; `onProgress` sees each answer. Resolves with the finished
 * task; rejects with the server's refusal (4xx, with `fields`) or the task's error.
 */
export async function deploy(
  client: DeploymentsClient,
  tasks: IDeployTaskApi,
  request: IDeployRequest,
  onProgress: (task: TaskRecord) => void,
  interval?: number
): Promise<TaskRecord> {
  const task = await client.deploy(request);
  onProgress(task);
  const model = new TaskModel<TaskRecord>({
    task,
    fetch: id => tasks.task(id),
    cancel: id => tasks.cancelTask(id),
    interval,
    name: 'jupyter-mlops:deploy'
  });
  model.changed.connect(() => onProgress(model.task));
  try {
    const done = await model.follow();
    if (done.state !== 'done') {
      const error = done.error;
      throw new MlopsApiError(
        error?.message ?? `The deployment ended ${done.state}.`,
        0,
        error?.code ?? `task_${done.state}`,
        error?.parameters ?? [],
        error?.fields ?? []
      );
    }
    return done;
  } finally {
    model.dispose();
  }
}

/** The deploy request's options from what the form holds (empty fields left out). */
export function deployOptions(values: {
  schedule: string;
  retries: string;
  timeout: string;
  notifyFromEnv: string;
}): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (values.schedule.trim()) {
    options.schedule = values.schedule.trim();
  }
  if (values.retries.trim()) {
    options.retries = Number(values.retries);
  }
  if (values.timeout.trim()) {
    options.timeout = values.timeout.trim();
  }
  if (values.notifyFromEnv.trim()) {
    options.notify_from_env = values.notifyFromEnv.trim();
  }
  return options;
}
