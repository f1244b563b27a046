import { expect, galata, test } from '@jupyterlab/galata';

const SCREENSHOTS = 'screenshots';

/** Open the MLOps sidebar the way a person does: by its tab in the left sidebar. */
async function openPanel(page: any) {
  await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
  const panel = page.locator('#jp-mlops-panel');
  await expect(panel).toBeVisible();
  return panel;
}

test.describe('MLOps panel', () => {
  test('shows the status of the embedded store and the experiments', async ({
    page
  }) => {
    const panel = await openPanel(page);
    const tracking = panel.getByTestId('mlops-status-tracking');
    await expect(tracking).toContainText('embedded store', { timeout: 30000 });
    await expect(tracking.locator('.jp-mlops-Health')).toHaveClass(/jp-mod-ok/);
    await expect(panel.getByTestId('mlops-status-containers')).toBeVisible();
    await expect(
      panel.locator('.jp-mlops-Experiment', { hasText: 'Default' })
    ).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/panel-light.png` });
  });

  test('lists runs tracked from a notebook, in the dark theme too', async ({
    page
  }) => {
    await page.notebook.createNew('tracked.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      [
        'import os',
        'from mlflow import MlflowClient',
        "client = MlflowClient(os.environ['JUPYTER_MLOPS_TRACKING_URI'])",
        "exp = client.create_experiment('galata-demo')",
        'runs = [client.create_run(exp).info.run_id for _ in range(3)]',
        '_ = [client.set_terminated(run) for run in runs]',
        "print('tracked')"
      ].join('\n')
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output')).toContainText(
      'tracked',
      {
        timeout: 60000
      }
    );

    const panel = await openPanel(page);
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('mlops:refresh')
    );
    const experiment = panel.locator('.jp-mlops-Experiment', {
      hasText: 'galata-demo'
    });
    await expect(experiment).toContainText('3 runs', { timeout: 30000 });

    // Filtering is done by the server.
    // (Other specs share the server's store: their experiments must not match.)
    await panel.getByLabel('Filter experiments by name').fill('galata-dem');
    await expect(panel.locator('.jp-mlops-Experiment')).toHaveCount(1, {
      timeout: 10000
    });

    await page.theme.setDarkTheme();
    await expect(experiment).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/panel-dark.png` });
    await page.theme.setLightTheme();
  });

  test('offers its commands in the command palette', async ({ page }) => {
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await expect(palette).toBeVisible();
    await palette.locator('input').fill('MLOps');
    await expect(palette.locator('.lm-CommandPalette-item')).toContainText([
      'MLOps Panel',
      'Refresh MLOps Status'
    ]);
    await palette
      .locator('.lm-CommandPalette-item', { hasText: 'MLOps Panel' })
      .click();
    await expect(page.locator('#jp-mlops-panel')).toBeVisible();
  });
  test('the Data section follows a change on disk without Refresh', async ({
    page
  }) => {
    test.setTimeout(180000);
    const name = `follow-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(0, 'code', '%load_ext jupyter_mlops');
    await page.notebook.addCell(
      'code',
      `open('${name}.csv', 'w').write('a\\n1\\n')\n%snapshot ${name}.csv -m first`
    );
    await page.notebook.runCellByCell();
    const panel = await openPanel(page);
    const row = panel.locator('.jp-mlops-DataPath', { hasText: `${name}.csv` });
    // The snapshot made in the kernel shows up by itself, then the change.
    await expect(row).toContainText('as snapshotted', { timeout: 45000 });
    await page.notebook.activate(`${name}.ipynb`);
    await page.notebook.addCell(
      'code',
      `open('${name}.csv', 'a').write('2\\n')`
    );
    await page.notebook.runCell(2);
    await expect(row).toContainText('changed since', { timeout: 45000 });
  });
});

test.describe('MLOps sidebar toolbar', () => {
  test('has the buttons its settings declare', async ({ page }) => {
    const panel = await openPanel(page);
    const toolbar = panel.locator('.jp-SidePanel-toolbar');
    await expect(toolbar.getByRole('button', { name: 'Models' })).toBeVisible();
    await expect(
      toolbar.getByRole('button', { name: 'Audit trail' })
    ).toBeVisible();
    const refresh = toolbar.locator(
      '[title="Reload the tracking status, experiments and runs"]'
    );
    await expect(refresh).toBeVisible();
    await refresh.click();
    await expect(panel.getByTestId('mlops-status-tracking')).toContainText(
      'embedded store'
    );
  });
});

test.describe('MLOps sidebar toolbar, customized in the settings', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyter-mlops:plugin': {
        toolbar: [{ name: 'mlops-audit', disabled: true }]
      }
    }
  });

  test('leaves out a button the user disabled', async ({ page }) => {
    const panel = await openPanel(page);
    const toolbar = panel.locator('.jp-SidePanel-toolbar');
    await expect(toolbar.getByRole('button', { name: 'Models' })).toBeVisible();
    await expect(
      toolbar.getByRole('button', { name: 'Audit trail' })
    ).toHaveCount(0);
  });
});
