import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, TestInfo } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

/**
 * The first hour: what a new user does with the demo project, at 1280x800 in the default
 * layout. Open the demo notebook, run all, see the runs in the MLOps panel, open the full
 * Runs view, compare two runs and open one, look at the data snapshot, export with every
 * target, run the job with a changed parameter, open its output notebook and find the
 * job's run. Every step is photographed in the light and the dark theme: the pictures are
 * attached to the report and copied to ui-tests/screenshots/first-hour/ (git-ignored), to
 * be looked at; a view that passes its checks but cannot be read has not passed.
 */

const DEMO = path.resolve(__dirname, '..', '..', 'demo');
const SHOTS = path.resolve(__dirname, '..', 'screenshots', 'first-hour');
const NOTEBOOK = 'getting-started.ipynb';
const JOB = 'getting-started';

test.use({ viewport: { width: 1280, height: 800 } });

/** The page in the light and then the dark theme, kept as `NN-name-{light,dark}.png`. */
async function photograph(
  page: IJupyterLabPageFixture,
  testInfo: TestInfo,
  name: string,
  settled: Locator
) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const theme of ['light', 'dark']) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await expect(settled).toBeVisible();
    const file = testInfo.outputPath(`${name}-${theme}.png`);
    await page.screenshot({ path: file });
    await testInfo.attach(`${name}-${theme}`, {
      path: file,
      contentType: 'image/png'
    });
    fs.copyFileSync(file, path.join(SHOTS, `${name}-${theme}.png`));
  }
  await page.theme.setLightTheme();
}

/** Fold or unfold panel sections by their titles (as a person clicks them). */
async function toggleSections(panel: Locator, titles: string[]) {
  for (const title of titles) {
    await panel.locator('.lm-AccordionPanel-title', { hasText: title }).click();
  }
}

test.describe('The first hour', () => {
  test('the demo: run all, runs in the panel and the Runs view, compare, data, export, job run', async ({
    page,
    tmpPath
  }, testInfo) => {
    test.setTimeout(420000);

    // The demo project, as demo.sh opens it (here in the test's folder of the server).
    await page.contents.uploadDirectory(DEMO, tmpPath);
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);
    const notebook = page.locator('.jp-NotebookPanel:visible');
    await expect(
      notebook.getByRole('heading', { name: /Getting started/ })
    ).toBeVisible({ timeout: 30000 });
    await photograph(
      page,
      testInfo,
      '01-notebook',
      notebook.locator('.jp-Notebook')
    );

    // Run ▸ Run All Cells, once the kernel is ready.
    await expect(page.locator('#jp-main-statusbar')).toContainText('Idle', {
      timeout: 60000
    });
    await page.menu.clickMenuItem('Run>Run All Cells');
    const cards = notebook.locator('.jp-mlops-RunCard', {
      hasText: 'saved to MLflow'
    });
    await expect(cards).toHaveCount(2, { timeout: 180000 });
    await expect(
      notebook.locator('[data-mime-type="application/vnd.jupyter.error"]')
    ).toHaveCount(0);
    await expect(notebook).toContainText('data/wine.csv: first version');
    await cards.first().scrollIntoViewIfNeeded();
    await photograph(page, testInfo, '02-run-all', cards.first());

    // The MLOps panel: the runs of this notebook's experiment, as compact rows.
    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    await expect(panel).toBeVisible();
    const runsSection = panel.locator('.jp-mlops-Section-runs');
    const rows = runsSection.locator('.jp-mlops-RunRow');
    await expect(rows.filter({ hasText: 'SGD baseline' }).first()).toBeVisible({
      timeout: 60000
    });
    await expect(
      rows.filter({ hasText: 'SGD with larger steps' }).first()
    ).toBeVisible();
    await photograph(page, testInfo, '03-panel', rows.first());

    // The full Runs view (mlops:open-runs), from the panel's "All runs".
    await runsSection.getByRole('button', { name: 'All runs' }).click();
    const view = page.locator('.jp-mlops-RunsWidget');
    const viewRows = view.locator('.jp-mlops-RunRow');
    await expect(
      viewRows.filter({ hasText: 'SGD with larger steps' }).first()
    ).toBeVisible({ timeout: 60000 });
    await expect(
      view.locator('th', { hasText: /^learning_rate$/ })
    ).toBeVisible();
    await photograph(page, testInfo, '04-runs-view', viewRows.first());

    // Compare the two runs: the learning rate differs, the losses in one chart.
    await view
      .getByRole('checkbox', { name: /^Select run SGD baseline/ })
      .first()
      .check();
    await view
      .getByRole('checkbox', { name: /^Select run SGD with larger steps/ })
      .first()
      .check();
    await view.getByRole('button', { name: 'Compare (2)' }).click();
    const compare = page.locator('.jp-mlops-Compare');
    await expect(
      compare.locator('tr.jp-mod-differs', { hasText: 'learning_rate' })
    ).toBeVisible({ timeout: 60000 });
    await expect(
      compare.locator('.jp-mlops-Chart canvas').first()
    ).toBeVisible();
    await photograph(page, testInfo, '05-compare', compare);

    // A run's details: loss curves, its figure (the confusion matrix), its data version.
    await page.locator('.lm-TabBar-tab[data-id="jp-mlops-runs"]').click();
    await view
      .locator('.jp-mlops-RunName', { hasText: /^SGD baseline/ })
      .first()
      .click();
    const details = page.locator('.jp-mlops-RunDetails:visible');
    await expect(
      details.locator('.jp-mlops-MetricChart canvas').first()
    ).toBeVisible({ timeout: 60000 });
    await expect(details).toContainText('val_loss');
    await photograph(page, testInfo, '06-run-details', details);
    const figure = details.getByRole('img', { name: /^figures\/.*\.png$/ });
    await figure.scrollIntoViewIfNeeded();
    await expect(figure).toBeVisible({ timeout: 30000 });
    await photograph(page, testInfo, '07-run-figure', figure);

    // The snapshot, in the panel's Data section (the sections above folded for room).
    await page.notebook.activate(NOTEBOOK);
    await toggleSections(panel, ['Status', 'Experiments', 'Runs']);
    const data = panel.locator('.jp-mlops-Section-data');
    const wine = data.getByRole('link', {
      name: `${tmpPath}/data/wine.csv`
    });
    await expect(wine).toBeVisible({ timeout: 60000 });
    await wine.click();
    const version = data.locator('.jp-mlops-DataVersion').first();
    await expect(version).toContainText('UCI wine data', { timeout: 30000 });
    const readBy = version.locator('.jp-mlops-DataVersion-runs');
    await expect(readBy).toContainText(/Read by \d+ runs/, { timeout: 30000 });
    await expect(readBy).toContainText('SGD baseline');
    await expect(data).toContainText('as snapshotted');
    await readBy.scrollIntoViewIfNeeded();
    await photograph(page, testInfo, '08-data', readBy);
    await toggleSections(panel, ['Status', 'Experiments', 'Runs']);

    // Export to Pipeline, every target.
    await page.notebook.save();
    await notebook
      .locator('.jp-Toolbar')
      .first()
      .getByRole('button', { name: 'Export to Pipeline' })
      .click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.getByLabel('Job name')).toHaveValue(JOB);
    const targets = dialog
      .getByRole('group', { name: 'Targets' })
      .getByRole('checkbox');
    await expect(targets.first()).toBeVisible({ timeout: 30000 });
    for (const target of await targets.all()) {
      if (await target.isEnabled()) {
        await target.check();
      }
    }
    await photograph(page, testInfo, '09-export-form', dialog);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    const runTab = dialog.getByRole('tab', { name: 'Run' });
    await expect(runTab).toBeVisible({ timeout: 180000 });
    await expect(dialog).toContainText(`pipelines/${JOB}`);
    for (const target of ['docker', 'kubernetes', 'argo', 'kfp', 'airflow']) {
      await expect(dialog).toContainText(target);
    }
    await photograph(page, testInfo, '10-exported', runTab);

    // Run the job with a changed parameter.
    await runTab.click();
    const epochs = dialog.getByLabel('epochs', { exact: true });
    await expect(epochs).toHaveValue('20');
    await epochs.fill('40');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    const output = dialog.getByRole('link', {
      name: 'Open the output notebook'
    });
    await expect(dialog).toContainText('succeeded', { timeout: 240000 });
    await output.scrollIntoViewIfNeeded();
    await photograph(page, testInfo, '11-job-run', output);

    // Its output notebook: the job ran with epochs = 40.
    await output.click();
    await expect(dialog).toHaveCount(0);
    await expect(
      page.locator('.lm-TabBar-tab.lm-mod-current', {
        hasText: new RegExp(`^${JOB}-\\d{8}-\\d{6}`)
      })
    ).toBeVisible({ timeout: 60000 });
    const injected = page
      .locator('.jp-NotebookPanel:visible .jp-CodeCell')
      .filter({ hasText: '# Parameters' });
    await expect(injected).toContainText('epochs = 40', { timeout: 60000 });
    await injected.scrollIntoViewIfNeeded();
    await photograph(page, testInfo, '12-output-notebook', injected);

    // The job's run in the panel: in the Runs list, and the job with its run in Jobs.
    await page.notebook.activate(NOTEBOOK);
    await expect(
      rows.filter({ hasText: new RegExp(`^.*${JOB}-\\d{8}-\\d{6}`) }).first()
    ).toBeVisible({ timeout: 60000 });
    await photograph(page, testInfo, '13-panel-job-run', rows.first());
    await toggleSections(panel, ['Status', 'Experiments', 'Runs']);
    const job = panel
      .getByTestId('mlops-jobs')
      .locator(`.jp-mlops-export-job[data-job="${tmpPath}/pipelines/${JOB}"]`);
    await expect(job).toBeVisible({ timeout: 60000 });
    const execution = panel
      .getByTestId('mlops-jobs')
      .locator('.jp-mlops-export-executionRow')
      .first();
    await expect(execution.locator('[data-status]')).toHaveAttribute(
      'data-status',
      'succeeded'
    );
    await expect(execution.getByRole('link', { name: 'output' })).toBeVisible();
    await photograph(page, testInfo, '14-jobs', execution);
    await toggleSections(panel, ['Status', 'Experiments', 'Runs']);

    // In the Runs view, the job's run with its cells' runs under it; its details.
    await page.locator('.lm-TabBar-tab[data-id="jp-mlops-runs"]').click();
    const jobRun = viewRows
      .filter({ hasText: new RegExp(`${JOB}-\\d{8}-\\d{6}`) })
      .first();
    await expect(jobRun).toBeVisible({ timeout: 60000 });
    await expect(jobRun).toContainText('job');
    // (Its two tracked cells; a retry's store may hold an earlier attempt's too.)
    await expect(view.locator('.jp-mlops-RunRow-nest').nth(1)).toBeVisible({
      timeout: 60000
    });
    await photograph(page, testInfo, '15-runs-view-job', jobRun);
    // The sidebar's list nests them the same way.
    await expect(
      runsSection.locator('.jp-mlops-RunRow.jp-mod-child').nth(1)
    ).toBeAttached({ timeout: 60000 });
    await jobRun.locator('.jp-mlops-RunName').click();
    const jobDetails = page.locator('.jp-mlops-RunDetails:visible');
    await expect(
      jobDetails.getByRole('button', { name: 'Open the output notebook' })
    ).toBeVisible({ timeout: 60000 });
    await expect(jobDetails).toContainText('SGD baseline');
    await photograph(page, testInfo, '16-job-run-details', jobDetails);
  });
});
