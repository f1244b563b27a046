/** The state of an image build as its progress events arrive (no React here). */
import type { BuildProgressEvent, JobBuild, TaskRecord } from '../api/types';

/** Lines of build output kept for the log view. */
export const LOG_LIMIT = 5000;

export interface IBuildState {
  phase: 'idle' | 'building' | 'done' | 'failed';
  step: number | null;
  total: number | null;
  /** The instruction being run (e.g. `RUN pip install ...`). */
  instruction: string;
  /** What is being pushed, while a push runs. */
  pushing: string | null;
  log: string[];
  /** Lines dropped from the start of the log to keep it at LOG_LIMIT. */
  dropped: number;
  build: JobBuild | null;
  error: { message: string; code: string } | null;
}

export const IDLE_BUILD: IBuildState = {
  phase: 'idle',
  step: null,
  total: null,
  instruction: '',
  pushing: null,
  log: [],
  dropped: 0,
  build: null,
  error: null
};

/** A build that just started. */
export function startedBuild(): IBuildState {
  return { ...IDLE_BUILD, phase: 'building' };
}

/** A build that stopped before or outside the stream (no engine, network). */
export function failedBuild(
  state: IBuildState,
  message: string,
  code: string
): IBuildState {
  return { ...state, phase: 'failed', pushing: null, error: { message, code } };
}

function withLog(state: IBuildState, text: string): IBuildState {
  const lines = text.replace(/\n$/, '').split('\n');
  const log = state.log.concat(lines);
  const extra = Math.max(0, log.length - LOG_LIMIT);
  return {
    ...state,
    log: extra ? log.slice(extra) : log,
    dropped: state.dropped + extra
  };
}

/** The state after one event of the build stream. */
export function buildReducer(
  state: IBuildState,
  event: BuildProgressEvent
): IBuildState {
  const text = event.text ?? '';
  switch (event.event) {
    case 'step':
      return withLog(
        {
          ...state,
          step: event.step ?? state.step,
          total: event.total ?? state.total,
          instruction: text
        },
        event.step && event.total
          ? `Step ${event.step}/${event.total} : ${text}`
          : text
      );
    case 'log':
      return text ? withLog(state, text) : state;
    case 'push':
      return withLog({ ...state, pushing: text }, text);
    case 'done':
      return {
        ...state,
        phase: 'done',
        pushing: null,
        step: state.total ?? state.step,
        build: event.build ?? null
      };
    case 'error':
      return failedBuild(
        withLog(state, text),
        text || 'The build failed.',
        event.code ?? 'build_failed'
      );
    default:
      return state;
  }
}

/** Bytes as "512 B", "3.4 MB", "1.2 GB". */
export function sizeText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0
    ? `${value} ${units[0]}`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A step's line in a build task's log: `Step 3/9: RUN pip install ...`. */
const STEP_LINE = /^Step (\d+)\/(\d+): (.*)$/;

/**
 * The state of a build followed as a task (`POST jobs/builds`, `GET tasks/{id}`): the
 * same view as a streamed build, from the task's progress, log lines, result or error.
 */
export function buildStateOfTask(task: TaskRecord): IBuildState {
  const log = task.log ?? [];
  let instruction = '';
  for (let i = log.length - 1; i >= 0; i--) {
    const match = STEP_LINE.exec(log[i]);
    if (match) {
      instruction = match[3];
      break;
    }
  }
  const total = task.total > 0 ? task.total : null;
  const base: IBuildState = {
    ...IDLE_BUILD,
    phase: 'building',
    step: total !== null ? task.done : null,
    total,
    instruction,
    pushing:
      task.state === 'running' && task.phase === 'pushing'
        ? (log[log.length - 1] ?? '')
        : null,
    log
  };
  if (task.state === 'running') {
    return base;
  }
  if (task.state === 'done') {
    return {
      ...base,
      phase: 'done',
      step: total ?? base.step,
      build: (task.result as unknown as JobBuild | null) ?? null
    };
  }
  return failedBuild(
    base,
    task.error?.message ?? task.state,
    task.error?.code ?? task.state
  );
}
