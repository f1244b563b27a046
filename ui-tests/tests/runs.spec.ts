import { expect, test } from '@jupyterlab/galata';

const SCREENSHOTS = 'screenshots';

/** Code typed into a cell line by line: no indented blocks (the editor would indent). */
const TRACKED = (lr: number, acc: number) =>
  [
    '%%track --metrics acc',
    `# lr ${lr}`,
    `lr = ${lr}`,
    "optimizer = 'adam'",
    '_ = [jupyter_mlops.log(step=i, loss=lr * 10 / (i + 1)) for i in range(6)]',
    `acc = ${acc}`
  ].join('\n');

test.describe('Runs view', () => {
  test('tracked cells appear as runs, with details and a comparison', async ({
    page
  }) => {
    test.setTimeout(300000);
    await page.notebook.createNew('runs-demo.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      '%load_ext jupyter_mlops\nimport jupyter_mlops'
    );
    await page.notebook.addCell('code', TRACKED(0.1, 0.81));
    await page.notebook.addCell('code', TRACKED(0.3, 0.93));
    await page.notebook.runCellByCell();
    await expect(page.locator('.jp-mlops-RunCard')).toHaveCount(2, {
      timeout: 60000
    });
    // The cards follow the delivery until the runs are saved.
    await expect(
      page.locator('.jp-mlops-RunCard', { hasText: 'saved to MLflow' })
    ).toHaveCount(2, { timeout: 60000 });

    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('mlops:refresh')
    );
    // The notebook in focus picks its experiment; the runs show up by themselves.
    await page.notebook.activate('runs-demo.ipynb');
    const rows = panel.locator('.jp-mlops-RunRow');
    await expect(rows).toHaveCount(2, { timeout: 30000 });
    await expect(panel.locator('.jp-mlops-RunsTable')).toContainText('lr 0.3');

    // Sorting by a metric is done by the store.
    await panel.locator('th', { hasText: 'acc' }).click();
    await expect(rows.first()).toContainText('lr 0.3');
    await panel.locator('th', { hasText: 'acc' }).click();
    await expect(rows.first()).toContainText('lr 0.1');
    await page.screenshot({ path: `${SCREENSHOTS}/runs-light.png` });

    // Details: metric history chart, parameters, cell source.
    await panel.locator('.jp-mlops-RunName', { hasText: 'lr 0.1' }).click();
    const details = page.locator('.jp-mlops-RunDetails');
    await expect(details).toContainText('optimizer', { timeout: 30000 });
    await expect(
      details.locator('.jp-mlops-MetricChart canvas').first()
    ).toBeVisible();
    await expect(details.locator('.jp-mlops-Source').first()).toContainText(
      'lr = 0.1'
    );
    // Text artifacts are previewed on demand.
    const requirements = details.locator('.jp-mlops-TextArtifact', {
      hasText: 'lineage/requirements.txt'
    });
    await requirements.locator('summary').click();
    await expect(requirements.locator('pre')).toContainText('mlflow==');
    await page.screenshot({ path: `${SCREENSHOTS}/run-details.png` });

    // Compare the two runs: fold the status and experiments sections to make room.
    await panel
      .locator('.lm-AccordionPanel-title', { hasText: 'Status' })
      .click();
    await panel
      .locator('.lm-AccordionPanel-title', { hasText: 'Experiments' })
      .click();
    for (const checkbox of await panel
      .locator('.jp-mlops-RunRow input[type=checkbox]')
      .all()) {
      await checkbox.check();
    }
    await panel.getByRole('button', { name: /Compare \(2\)/ }).click();
    const compare = page.locator('.jp-mlops-Compare');
    await expect(
      compare.locator('tr.jp-mod-differs', { hasText: 'lr' })
    ).toBeVisible({
      timeout: 30000
    });
    await expect(
      compare.locator('tr', { hasText: 'optimizer' })
    ).not.toHaveClass(/jp-mod-differs/);
    await expect(
      compare.locator('.jp-mlops-Chart canvas').first()
    ).toBeVisible();
    await page.theme.setDarkTheme();
    await page.screenshot({ path: `${SCREENSHOTS}/compare-dark.png` });
    await page.theme.setLightTheme();

    // The run cards link to `/lab?mlops-run=<id>`: the route's command opens the run.
    const runId = await rows.last().getAttribute('data-run-id');
    await page.evaluate(
      id =>
        (window as any).jupyterapp.commands.execute('mlops:open-run-from-url', {
          hash: '',
          path: '/lab',
          request: `/lab?mlops-run=${id}`,
          search: `?mlops-run=${id}`
        }),
      runId
    );
    await expect(
      page.locator('.jp-mlops-RunDetails', { hasText: runId! })
    ).toBeVisible({
      timeout: 30000
    });
  });
});
