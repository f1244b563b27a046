import { expect, test } from '@jupyterlab/galata';

import { notebookJson } from './notebooks';

const SCREENSHOTS = 'screenshots';
const NOTEBOOK = 'galata-export.ipynb';

/** A notebook with a `parameters` cell, as a person would have tagged it. */
function notebook(): string {
  const code = (source: string, tags: string[] = []) => ({ source, tags });
  return notebookJson([
    code(
      [
        'epochs = 3  # passes over the data',
        'lr: float = 0.01  # learning rate',
        'layers = [16, 8]  # hidden layer sizes'
      ].join('\n'),
      ['parameters']
    ),
    code("print(f'trained {epochs} epochs at lr {lr} with {layers}')")
  ]);
}

test.describe('Export to Pipeline', () => {
  test('exports a notebook, runs the job with a changed parameter, lists it in the panel', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(300000);
    await page.contents.uploadContent(
      notebook(),
      'text',
      `${tmpPath}/${NOTEBOOK}`
    );
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);

    // The toolbar button is declared in the settings schema (jupyter.lab.toolbars),
    // its name shown beside its icon.
    const item = page.locator(
      '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"]'
    );
    const button = item.locator('button');
    await expect(button).toBeVisible();
    await expect(item).toContainText('Export to Pipeline');
    await expect(button).toHaveAttribute('aria-label', 'Export to Pipeline');
    await button.click();

    const dialog = page.locator('.jp-mlops-export-dialog');
    await expect(dialog).toBeVisible();
    const name = dialog.getByLabel('Job name');
    await expect(name).toHaveValue('galata-export');
    const docker = dialog.locator('input[name=target][value=docker]');
    await expect(docker).toBeChecked();

    // A wrong name is refused before asking the server, and the input is kept.
    await name.fill('Galata Export');
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    await expect(dialog.locator('.jp-mlops-export-fieldError')).toContainText(
      '"galata-export"'
    );
    await expect(name).toHaveValue('Galata Export');
    await name.fill('galata-export');

    // Orchestrator options show with an orchestrator target only.
    const options = dialog.getByTestId('mlops-export-orchestrator');
    await expect(options).toHaveCount(0);
    await dialog.locator('input[name=target][value=kubernetes]').check();
    await expect(options).toBeVisible();
    await expect(options.getByLabel('Schedule')).toBeVisible();
    await dialog.locator('input[name=target][value=kubernetes]').uncheck();
    await expect(options).toHaveCount(0);

    // Enter in a field submits the form (not the dialog, which stays open).
    await name.press('Enter');
    const result = dialog.getByTestId('mlops-job-result');
    await expect(result).toBeVisible({ timeout: 120000 });
    await expect(result.locator('.jp-mlops-export-folder')).toHaveText(
      `${tmpPath}/pipelines/galata-export`
    );
    const parameters = result.getByTestId('mlops-parameters');
    await expect(parameters.locator('tbody tr')).toHaveCount(3);
    await expect(
      parameters.locator('tr[data-parameter="epochs"]')
    ).toContainText('passes over the data');
    await expect(parameters.locator('tr[data-parameter="lr"]')).toContainText(
      'float'
    );
    await expect(
      parameters.locator('tr[data-parameter="layers"]')
    ).toContainText('[16,8]');
    await page.screenshot({ path: `${SCREENSHOTS}/export-light.png` });

    // Run with a changed parameter: a wrong value is refused beside its input first.
    await result.getByRole('tab', { name: 'Run' }).click();
    const epochs = result.getByLabel('epochs', { exact: true });
    await expect(epochs).toHaveValue('3');
    await epochs.fill('2.5');
    const run = result.locator('.jp-mlops-export-runForm button[type=submit]');
    await run.click();
    await expect(
      result.locator('.jp-mlops-runForm .validationErrors li')
    ).toHaveText('Must be an integer.');
    await epochs.fill('5');
    await expect(
      result.locator('.jp-mlops-export-runForm input[type=checkbox]')
    ).toBeDisabled(); // "in the container" needs a built image
    await epochs.press('Enter');

    const execution = result.getByTestId('mlops-execution');
    await expect(execution.locator('[data-status]')).toHaveAttribute(
      'data-status',
      'succeeded',
      { timeout: 180000 }
    );
    await page.theme.setDarkTheme();
    await expect(execution.locator('[data-status]')).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/export-dark.png` });
    await page.theme.setLightTheme();

    // The output notebook opens (and the dialog closes): it ran with epochs = 5.
    await execution
      .getByRole('link', { name: 'Open the output notebook' })
      .click();
    await expect(dialog).toHaveCount(0);
    const output = page.locator('.jp-NotebookPanel:visible');
    await expect(
      page.locator('.lm-TabBar-tab.lm-mod-current', {
        hasText: /^galata-export-\d{8}-\d{6}/
      })
    ).toBeVisible({ timeout: 30000 });
    await expect(output.locator('.jp-OutputArea-output').last()).toContainText(
      'trained 5 epochs at lr 0.01',
      { timeout: 30000 }
    );

    // The Jobs section lists the job, its run and the output notebook.
    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    for (const title of ['Status', 'Experiments', 'Runs']) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    const jobs = panel.getByTestId('mlops-jobs');
    await expect(jobs).toBeVisible({ timeout: 30000 });
    const job = jobs.locator(
      `.jp-mlops-export-job[data-job="${tmpPath}/pipelines/galata-export"]`
    );
    await expect(job).toContainText('galata-export');
    await expect(job).toContainText('docker');
    await expect(job).toContainText('no image built');
    const row = jobs.locator('.jp-mlops-export-executionRow').first();
    await expect(row.locator('[data-status]')).toHaveAttribute(
      'data-status',
      'succeeded'
    );
    await expect(row.getByRole('link', { name: 'output' })).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/jobs-light.png` });
    await page.theme.setDarkTheme();
    await expect(job).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/jobs-dark.png` });
    await page.theme.setLightTheme();

    // Run from the panel opens the same pane, with the parameters' defaults.
    await job.getByRole('button', { name: 'Run' }).click();
    const again = page.locator('.jp-mlops-export-dialog');
    await expect(again.getByLabel('epochs', { exact: true })).toHaveValue('3');
    await again.getByRole('button', { name: 'Close' }).click();
    await expect(again).toHaveCount(0);
  });

  test('shows every problem beside its field at once, keeps Export in view, remembers the options', async ({
    page,
    tmpPath
  }) => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.contents.uploadContent(
      notebook(),
      'text',
      `${tmpPath}/${NOTEBOOK}`
    );
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);
    const open = async () => {
      await page
        .locator(
          '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"] button'
        )
        .click();
      const dialog = page.locator('.jp-mlops-export-dialog');
      await expect(dialog).toBeVisible();
      return dialog;
    };
    let dialog = await open();
    const problem = (field: string) =>
      dialog.locator(`[data-field="${field}"] .jp-mlops-export-fieldError`);
    const exportButton = () =>
      dialog.getByRole('button', { name: 'Export', exact: true });

    // Two wrong fields: both problems come back from one check, each beside its field.
    await dialog.getByLabel('Job name').fill('nightly-train');
    await dialog.locator('input[name=target][value=kubernetes]').check();
    const options = dialog.getByTestId('mlops-export-orchestrator');
    await options.getByLabel('Schedule').fill('61 * * * *');
    await options.getByLabel('Memory').fill('lots');
    await expect(problem('schedule')).toContainText(
      'is not a valid cron expression'
    );
    await expect(problem('memory')).toContainText(
      'is not a positive Kubernetes quantity'
    );
    await expect(dialog.locator('.jp-mlops-export-fieldError')).toHaveCount(2);
    await expect(dialog.locator('.jp-mlops-ErrorCard')).toHaveCount(0);

    // With every option shown at 1280x800, the Export button is in view, in the dialog's
    // visible part (a footer stuck to its bottom), not below the fold.
    const inView = async () => {
      const button = await exportButton().boundingBox();
      const body = await dialog.locator('.jp-Dialog-body').boundingBox();
      expect(button && body).toBeTruthy();
      expect(button!.y).toBeGreaterThanOrEqual(body!.y);
      expect(button!.y + button!.height).toBeLessThanOrEqual(
        body!.y + body!.height + 1
      );
      expect(button!.y + button!.height).toBeLessThanOrEqual(800);
    };
    await expect(exportButton()).toBeInViewport({ ratio: 1 });
    await inView();
    await page.screenshot({ path: `${SCREENSHOTS}/export-problems-light.png` });

    // Fixing one clears its problem; the other stays.
    await options.getByLabel('Schedule').fill('@daily');
    await expect(problem('schedule')).toHaveCount(0);
    await expect(problem('memory')).toContainText('lots');

    // Reopened, the dialog has what was typed (and checks it again).
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);
    dialog = await open();
    await expect(dialog.getByLabel('Job name')).toHaveValue('nightly-train');
    await expect(
      dialog.locator('input[name=target][value=kubernetes]')
    ).toBeChecked();
    await expect(
      dialog.getByTestId('mlops-export-orchestrator').getByLabel('Schedule')
    ).toHaveValue('@daily');
    await expect(problem('memory')).toContainText('lots');
    await expect(problem('schedule')).toHaveCount(0);
    await inView();
    await page.theme.setDarkTheme();
    await page.screenshot({ path: `${SCREENSHOTS}/export-problems-dark.png` });
    await page.theme.setLightTheme();
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  test('offers the command in the palette and the File menu', async ({
    page,
    tmpPath
  }) => {
    await page.contents.uploadContent(
      notebook(),
      'text',
      `${tmpPath}/${NOTEBOOK}`
    );
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.menu.open('File');
    await expect(
      page.locator('.lm-Menu-itemLabel', { hasText: 'Export to Pipeline…' })
    ).toBeVisible();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette.locator('input').fill('Export to Pipeline');
    await expect(palette.locator('.lm-CommandPalette-item')).toContainText([
      'Export to Pipeline…'
    ]);
  });
});
