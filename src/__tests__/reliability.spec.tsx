/**
 * The export dialog's reliability options (#15): retries, back-off, timeout and where the
 * notification URL comes from, sent as the API's deployment fields, checked before the
 * server is asked (a URL where a name is expected refused), and shown in their own group.
 */
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { act, mount } from './react';

import type { ExportTargetInfo } from '../api/types';
import { ExportForm } from '../export/ExportForm';
import {
  IExportValues,
  exportProblems,
  exportRequest,
  initialExportValues,
  isDuration,
  restoredValues,
  storedValues,
  warningText
} from '../export/options';

const trans = nullTranslator.load('jupyter_mlops');
const TARGETS: ExportTargetInfo[] = [
  { name: 'docker', description: 'Docker', orchestrator: false, error: null },
  {
    name: 'kubernetes',
    description: 'Kubernetes',
    orchestrator: true,
    error: null
  }
];

function withOptions(options: Partial<IExportValues['deployment']>) {
  const values = initialExportValues('train.ipynb');
  values.targets = ['docker', 'kubernetes'];
  Object.assign(values.deployment, options);
  return values;
}

describe('reliability options', () => {
  it('are sent typed, with an orchestrator target only', () => {
    const values = withOptions({
      retries: ' 3 ',
      retry_delay: '30s',
      retry_backoff: '1.5',
      timeout: '2h',
      notify_from_env: 'ALERTS_URL',
      notify_secret: 'alerts',
      notify_on: 'always'
    });
    expect(exportRequest('train.ipynb', values, TARGETS).deployment).toEqual({
      retries: 3,
      retry_delay: '30s',
      retry_backoff: 1.5,
      timeout: '2h',
      notify_from_env: 'ALERTS_URL',
      notify_secret: 'alerts',
      notify_on: 'always'
    });
    expect(exportProblems(values, TARGETS, trans)).toEqual({});
    values.targets = ['docker'];
    expect(
      exportRequest('train.ipynb', values, TARGETS).deployment
    ).toBeUndefined();
  });

  it('leave out what is empty; "failure" is the default', () => {
    const values = withOptions({ retries: '0', notify_on: 'failure' });
    expect(exportRequest('train.ipynb', values, TARGETS).deployment).toEqual({
      retries: 0
    });
  });

  it('refuse mistakes before asking the server', () => {
    const values = withOptions({
      retries: '-1',
      retry_delay: '5x',
      timeout: 'soon',
      retry_backoff: '0.5',
      notify_from_env: 'slack://T000/B000/XXXX',
      notify_secret: 'json://hooks.example.com/x'
    });
    const problems = exportProblems(values, TARGETS, trans);
    expect(problems.retries).toBe('A whole number of retries (0 to 100).');
    expect(problems.retry_delay).toBe(
      'A duration such as 90s, 30m, 2h or 1h30m.'
    );
    expect(problems.timeout).toBe('A duration such as 90s, 30m, 2h or 1h30m.');
    expect(problems.retry_backoff).toBe(
      'A factor from 1 (a constant wait) to 10.'
    );
    expect(problems.notify_from_env).toBe(
      'The name of an environment variable holding the URL, never the URL itself.'
    );
    expect(problems.notify_secret).toContain('never the URL itself');
    const lonely = exportProblems(
      withOptions({ retry_backoff: '2' }),
      TARGETS,
      trans
    );
    expect(lonely.retry_backoff).toBe(
      'Give the first wait in "Retry delay" too.'
    );
  });

  it('reads durations as the server does', () => {
    for (const good of ['90s', '30m', '2h', '1h30m', '1d', '45', ' 2H ']) {
      expect(isDuration(good)).toBe(true);
    }
    for (const bad of ['', 'h', '2 h', '1.5h', '-5s', '30m2h', '5x']) {
      expect(isDuration(bad)).toBe(false);
    }
  });

  it('are kept per notebook and restored', () => {
    const values = withOptions({ retries: '2', notify_on: 'always' });
    const restored = restoredValues('train.ipynb', storedValues(values));
    expect(restored.deployment.retries).toBe('2');
    expect(restored.deployment.notify_on).toBe('always');
  });

  it("say the Kubernetes retry-delay warning in the dialog's words", () => {
    expect(
      warningText(
        {
          message: '--retry-delay 30s: ...',
          code: 'retry_delay_ignored',
          field: 'deployment.retry_delay',
          values: { engine: 'Kubernetes' }
        },
        trans
      )
    ).toContain('Kubernetes waits between retries itself');
  });

  it('are a group of the form with a select for when to notify', () => {
    const changes: IExportValues[] = [];
    const view = mount(
      React.createElement(ExportForm, {
        notebook: 'train.ipynb',
        values: withOptions({}),
        errors: { timeout: 'A duration such as 90s, 30m, 2h or 1h30m.' },
        disabled: false,
        targets: TARGETS,
        targetsError: null,
        onRetryTargets: () => undefined,
        trans,
        onChange: values => changes.push(values),
        onSubmit: () => undefined,
        id: 'export-form'
      })
    );
    const group = view.host.querySelector(
      '[data-testid=mlops-export-reliability]'
    )!;
    expect(group.querySelector('legend')!.textContent).toBe(
      'Retries, timeout and notifications'
    );
    const names = Array.from(group.querySelectorAll('input, select')).map(e =>
      e.getAttribute('name')
    );
    expect(names).toEqual([
      'retries',
      'retry_delay',
      'retry_backoff',
      'timeout',
      'notify_from_env',
      'notify_secret',
      'notify_on'
    ]);
    const timeout = group.querySelector('[data-field=timeout]')!;
    expect(timeout.querySelector('[role=alert]')!.textContent).toBe(
      'A duration such as 90s, 30m, 2h or 1h30m.'
    );
    const select = group.querySelector('select')!;
    expect(Array.from(select.options).map(o => o.value)).toEqual([
      'failure',
      'always'
    ]);
    act(() => {
      select.value = 'always';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(changes[changes.length - 1].deployment.notify_on).toBe('always');
    view.unmount();
  });
});
