import { expect, test } from '@jupyterlab/galata';

const SCREENSHOTS = 'screenshots';

test.describe('Lineage', () => {
  test('a tracked run shows its lineage, in light and dark theme; the audit trail opens', async ({
    page
  }) => {
    test.setTimeout(300000);
    const name = `lineage-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(0, 'code', '%load_ext jupyter_mlops');
    await page.notebook.addCell(
      'code',
      ['%%track --name fit', 'lr = 0.1', 'acc = 0.9'].join('\n')
    );
    await page.notebook.runCellByCell();
    await expect(
      page.locator('.jp-mlops-RunCard', { hasText: 'saved to MLflow' })
    ).toHaveCount(1, { timeout: 90000 });
    // The run's id, as the store has it.
    await page.notebook.addCell(
      'code',
      [
        'import os',
        'from mlflow import MlflowClient',
        "client = MlflowClient(os.environ['JUPYTER_MLOPS_TRACKING_URI'])",
        `exp = client.get_experiment_by_name('${name}')`,
        "print('RUN', client.search_runs([exp.experiment_id])[0].info.run_id)"
      ].join('\n')
    );
    await page.notebook.runCell(2);
    const output = page.locator(
      '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stdout"]',
      { hasText: /RUN [0-9a-f]{32}/ }
    );
    await expect(output).toBeVisible({ timeout: 60000 });
    const runId = ((await output.textContent()) ?? '').split('RUN ')[1].trim();
    expect(runId).toMatch(/^[0-9a-f]{32}$/);

    // Run details, then its "Lineage" toolbar button.
    await page.evaluate(
      id =>
        (window as any).jupyterapp.commands.execute('mlops:open-run', {
          runId: id
        }),
      runId
    );
    const runTab = page.locator(`#jp-mlops-run-${runId}`);
    await expect(runTab.locator('.jp-mlops-RunDetails')).toBeVisible({
      timeout: 30000
    });
    await runTab.getByRole('button', { name: 'Lineage' }).click();
    const view = page.locator('.jp-mlops-LineageWidget');
    const root = view.locator(`g[data-id="run:${runId}"]`);
    await expect(root).toBeVisible({ timeout: 30000 });
    await expect(root).toHaveClass(/jp-mlops-mod-root/);
    // The notebook's node (its path below the server's root ends with its name).
    const notebook = view.locator(
      `g.jp-mlops-Lineage-node-notebook[data-id$="/${name}.ipynb"]`
    );
    await expect(notebook).toBeVisible();
    await expect(
      view.locator(`g.jp-mlops-Lineage-edge[data-source$="/${name}.ipynb"]`)
    ).toHaveAttribute('data-target', `run:${runId}`);
    await page.screenshot({ path: `${SCREENSHOTS}/lineage-light.png` });
    const fill = () =>
      root
        .locator('rect')
        .first()
        .evaluate(el => getComputedStyle(el).fill);
    const light = await fill();

    await page.theme.setDarkTheme();
    await expect.poll(fill).not.toBe(light);
    await page.screenshot({ path: `${SCREENSHOTS}/lineage-dark.png` });
    await page.theme.setLightTheme();

    // Keyboard: focus the notebook's node, Enter opens the notebook.
    await notebook.focus();
    await expect(view.locator('.jp-mlops-Lineage-details')).toContainText(
      `${name}.ipynb`
    );
    await page.keyboard.press('Enter');
    await expect(
      page.locator('.lm-TabBar-tab.jp-mod-current', {
        hasText: `${name}.ipynb`
      })
    ).toBeVisible({ timeout: 30000 });

    // The audit trail, from the sidebar.
    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    await page
      .locator('#jp-mlops-panel')
      .getByRole('button', { name: 'Audit trail' })
      .click();
    const status = page.locator('.jp-mlops-AuditWidget .jp-mlops-AuditStatus');
    await expect(status).toContainText('Chain intact', { timeout: 30000 });
  });
});
