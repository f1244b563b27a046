import { expect, test } from '@jupyterlab/galata';

import { notebookJson } from './notebooks';

/**
 * Deploying from JupyterLab, as a person first meets it: Deploy on an exported job's card
 * opens the dialog; the server's refusals (a schedule that is no cron line, a job whose
 * image is not built yet) show as they come, nothing is deployed; the Deployments tab,
 * opened from the Jobs section, says there is none yet. Light and dark.
 */

const SCREENSHOTS = 'screenshots';

test.describe('Deployments', () => {
  test('the Deploy dialog shows the server’s refusals and deploys nothing', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(300000);
    const job = `galata-deploy-${test.info().retry}`;
    await page.contents.uploadContent(
      notebookJson([
        { source: 'n = 3  # rows', tags: ['parameters'] },
        { source: 'print("rows", n)' }
      ]),
      'text',
      `${tmpPath}/${job}.ipynb`
    );
    await page.notebook.openByPath(`${tmpPath}/${job}.ipynb`);
    await page.notebook.activate(`${job}.ipynb`);
    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"] button'
      )
      .click();
    const exportDialog = page.locator('.jp-mlops-export-dialog');
    await exportDialog
      .getByRole('button', { name: 'Export', exact: true })
      .click();
    await expect(exportDialog.getByTestId('mlops-job-result')).toBeVisible({
      timeout: 120000
    });
    await exportDialog.getByRole('button', { name: 'Close' }).click();

    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    for (const title of ['Status', 'Experiments', 'Runs']) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    const card = panel
      .getByTestId('mlops-jobs')
      .locator(`.jp-mlops-export-job[data-job="${tmpPath}/pipelines/${job}"]`);
    await expect(card).toBeVisible({ timeout: 30000 });
    await card.getByRole('button', { name: 'Deploy' }).click();

    const dialog = page.locator('.jp-mlops-export-dialog');
    const form = dialog.getByRole('form', { name: `Deploy ${job}` });
    await expect(form).toBeVisible();
    await expect(form.getByLabel('Engine')).toHaveValue('airflow');
    await expect(form.getByLabel(/^Paused/)).toBeChecked();
    await form.getByLabel('Schedule', { exact: true }).fill('every tuesday');
    await form.getByRole('button', { name: 'Deploy' }).click();
    const alert = form.getByRole('alert');
    await expect(alert).toContainText('not a valid cron expression');
    await page.screenshot({ path: `${SCREENSHOTS}/deploy-dialog-light.png` });
    await page.theme.setDarkTheme();
    await expect(alert).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/deploy-dialog-dark.png` });
    await page.theme.setLightTheme();

    await form.getByLabel('Schedule', { exact: true }).fill('@daily');
    await form.getByRole('button', { name: 'Deploy' }).click();
    await expect(alert).toContainText('build it first');
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Nothing was deployed.
    await panel
      .getByTestId('mlops-jobs')
      .getByRole('link', { name: 'Deployments', exact: true })
      .click();
    const tab = page.getByTestId('mlops-deployments');
    await expect(tab).toBeVisible({ timeout: 30000 });
    await expect(tab).toContainText('No deployments yet');
    await page.screenshot({
      path: `${SCREENSHOTS}/deployments-empty-light.png`
    });
  });
});
