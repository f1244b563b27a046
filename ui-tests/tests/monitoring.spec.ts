import { expect, test } from '@jupyterlab/galata';

import { notebookJson } from './notebooks';

/**
 * The monitoring view on real data: a notebook exported and run twice through the Run
 * pane (the job entrypoint, a real kernel, runs recorded in the project's store), then
 * Monitor on its card in the Jobs section charts its runs over time (outcome and
 * duration, the drift share, the metric its tracked cell computed), light and dark.
 */

const SCREENSHOTS = 'screenshots';
/** One store for the whole run: a retry's job has a name of its own. */
const JOB = () => `galata-monitor-${test.info().retry}`;

function notebook(): string {
  return notebookJson([
    {
      source: 'quality = 0.9  # how good the batch is',
      tags: ['parameters']
    },
    { source: '%load_ext jupyter_mlops' },
    {
      source: [
        '%%track --name score',
        'accuracy = quality * 1.0',
        'drift_share = quality / 4',
        'print("scored", accuracy)'
      ].join('\n')
    }
  ]);
}

test.describe('Monitoring', () => {
  test('charts a job’s runs over time from the runs it recorded', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(400000);
    const JOB_NAME = JOB();
    const NOTEBOOK = `${JOB_NAME}.ipynb`;
    await page.contents.uploadContent(
      notebook(),
      'text',
      `${tmpPath}/${NOTEBOOK}`
    );
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);
    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"] button'
      )
      .click();
    const dialog = page.locator('.jp-mlops-export-dialog');
    await expect(dialog.getByLabel('Job name')).toHaveValue(JOB_NAME);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    const result = dialog.getByTestId('mlops-job-result');
    await expect(result).toBeVisible({ timeout: 120000 });
    await result.getByRole('tab', { name: 'Run' }).click();

    // Two runs: the defaults, then a worse batch.
    const form = result.locator('form.jp-mlops-runForm');
    const status = result
      .getByTestId('mlops-execution')
      .locator('[data-status]');
    await form.locator('button[type=submit]').click();
    await expect(status).toHaveAttribute('data-status', 'succeeded', {
      timeout: 180000
    });
    await form.getByLabel('quality', { exact: true }).fill('0.6');
    await form.locator('button[type=submit]').click();
    await expect(status).toHaveAttribute('data-status', 'running', {
      timeout: 30000
    });
    await expect(status).toHaveAttribute('data-status', 'succeeded', {
      timeout: 180000
    });
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Monitor, on the job's card in the Jobs section.
    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    for (const title of ['Status', 'Experiments', 'Runs']) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    const job = panel
      .getByTestId('mlops-jobs')
      .locator(
        `.jp-mlops-export-job[data-job="${tmpPath}/pipelines/${JOB_NAME}"]`
      );
    await expect(job).toBeVisible({ timeout: 30000 });
    await job.getByRole('button', { name: 'Monitor' }).click();

    const view = page.getByTestId('mlops-monitoring');
    await expect(view).toBeVisible();
    await expect(
      page.locator('.lm-TabBar-tab.lm-mod-current', {
        hasText: `Monitor: ${JOB_NAME}`
      })
    ).toBeVisible();
    // The cells' runs bring their metrics to the job's runs a moment after the job ends.
    // Newest first in the table: the worse batch, then the first run.
    const rows = view.locator('.jp-mlops-monitoring-runs tbody tr');
    await expect(async () => {
      await view.getByRole('button', { name: 'Refresh' }).click();
      await expect(rows).toHaveCount(2, { timeout: 2000 });
      await expect(rows.nth(0)).toContainText('0.6000', { timeout: 2000 });
      await expect(rows.nth(0)).toContainText('0.1500', { timeout: 2000 });
      await expect(rows.nth(1)).toContainText('0.9000', { timeout: 2000 });
    }).toPass({ timeout: 90000 });
    const summary = view.getByTestId('mlops-monitoring-summary');
    await expect(summary).toContainText('2 runs');
    await expect(summary).toContainText('2 succeeded');
    await expect(summary).toContainText('0 failed');
    await expect(
      view.locator('section[aria-label="Outcome and duration"] canvas')
    ).toHaveCount(1);
    await expect(
      view.locator('section[aria-label="drift_share"] canvas')
    ).toHaveCount(1);
    await expect(
      view.locator('section[aria-label="accuracy"] canvas')
    ).toHaveCount(1);
    await page.screenshot({ path: `${SCREENSHOTS}/monitoring-light.png` });
    await page.theme.setDarkTheme();
    await expect(view).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/monitoring-dark.png` });
    await page.theme.setLightTheme();

    // A row opens the job's tracked run.
    await rows.nth(0).getByRole('link').click();
    await expect(
      page.locator('.lm-TabBar-tab.lm-mod-current', { hasText: JOB_NAME })
    ).toBeVisible({ timeout: 30000 });
  });
});
