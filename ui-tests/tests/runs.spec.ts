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
    // A fresh experiment per attempt (a retry must not find the first attempt's runs).
    const name = `runs-demo-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
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
    await page.notebook.activate(`${name}.ipynb`);
    const sidebarRows = panel.locator('.jp-mlops-RunRow');
    await expect(sidebarRows).toHaveCount(2, { timeout: 30000 });
    // The sidebar's compact list: newest first, with the key metric (shared by all runs).
    await expect(sidebarRows.first()).toContainText('lr 0.3');
    await expect(sidebarRows.first()).toContainText('acc');
    await expect(sidebarRows.first()).toContainText('0.93');
    await expect(sidebarRows.first().getByRole('img')).toHaveAttribute(
      'aria-label',
      'done'
    );

    // "All runs" opens the full-width Runs view on the same experiment.
    await panel.getByRole('button', { name: 'All runs' }).click();
    const view = page.locator('.jp-mlops-RunsWidget');
    await expect(view).toBeVisible();
    const tab = page.locator('.lm-TabBar-tab[data-id="jp-mlops-runs"]');
    await expect(tab).toContainText(`Runs: ${name}`);
    const rows = view.locator('.jp-mlops-RunRow');
    await expect(rows).toHaveCount(2, { timeout: 30000 });
    // Default columns: the metrics the runs share, the parameters that differ.
    const headers = view.locator('th');
    await expect(headers.filter({ hasText: 'acc' })).toHaveCount(1);
    await expect(headers.filter({ hasText: /^lr$/ })).toHaveCount(1);
    await expect(headers.filter({ hasText: 'optimizer' })).toHaveCount(0);

    // Sorting by a metric is done by the store.
    await view.locator('th', { hasText: 'acc' }).click();
    await expect(rows.first()).toContainText('lr 0.3');
    await view.locator('th', { hasText: 'acc' }).click();
    await expect(rows.first()).toContainText('lr 0.1');
    await page.screenshot({ path: `${SCREENSHOTS}/runs-light.png` });

    // Details: metric history chart, parameters, cell source.
    await view.locator('.jp-mlops-RunName', { hasText: 'lr 0.1' }).click();
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

    // Compare the two runs, from the Runs view.
    await tab.click();
    for (const checkbox of await rows.locator('input[type=checkbox]').all()) {
      await checkbox.check();
    }
    await view.getByRole('button', { name: /Compare \(2\)/ }).click();
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

test.describe('Runs at 1280×800', () => {
  test.use({ viewport: { width: 1280, height: 800 } });

  test('the sidebar shows ten runs; the full view sorts and compares', async ({
    page
  }) => {
    test.setTimeout(180000);
    const name = `galata-twelve-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(
      0,
      'code',
      [
        'import os',
        'from mlflow import MlflowClient',
        "client = MlflowClient(os.environ['JUPYTER_MLOPS_TRACKING_URI'])",
        `exp = client.create_experiment('${name}')`,
        // One line each: the editor would indent the lines of a block.
        "runs = [client.create_run(exp, run_name=f'run {i:02d}').info.run_id for i in range(12)]",
        "_ = [client.log_param(r, 'lr', i / 10) for i, r in enumerate(runs)]",
        "_ = [client.log_metric(r, 'acc', 0.5 + i / 100) for i, r in enumerate(runs)]",
        '_ = [client.set_terminated(r) for r in runs]',
        "print('twelve')"
      ].join('\n')
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output')).toContainText(
      'twelve',
      { timeout: 60000 }
    );
    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('mlops:refresh')
    );
    const section = panel.locator('.jp-mlops-Section-runs');
    await expect(section.locator('option', { hasText: name })).toHaveCount(1, {
      timeout: 30000
    });
    await section.getByLabel('Experiment').selectOption({ label: name });
    const rows = section.locator('.jp-mlops-RunRow');
    await expect(rows).toHaveCount(12, { timeout: 30000 });

    // With the other sections in their default state, ten rows are in view.
    const inView = await section.evaluate(node => {
      const bottom = node.getBoundingClientRect().bottom;
      return Array.from(node.querySelectorAll('.jp-mlops-RunRow')).filter(
        row => row.getBoundingClientRect().bottom <= bottom + 0.5
      ).length;
    });
    expect(inView).toBeGreaterThanOrEqual(10);
    // Legible: a row's name is not cut to nothing, and its metric shows.
    await expect(rows.first()).toContainText('run 11');
    await expect(rows.first()).toContainText('acc 0.6100');
    await page.screenshot({ path: `${SCREENSHOTS}/runs-sidebar-1280.png` });

    // Folding Status and Experiments gives their space to the others, Runs included.
    const before = (await section.boundingBox())!.height;
    for (const title of ['Status', 'Experiments']) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    await expect
      .poll(async () => (await section.boundingBox())!.height)
      .toBeGreaterThan(before + 40);

    // The palette's command opens the full view on the sidebar's experiment.
    await page.evaluate(
      () =>
        (window as any).jupyterapp.commands.execute('mlops:open-runs') as void
    );
    const view = page.locator('.jp-mlops-RunsWidget');
    await expect(view.locator('.jp-mlops-RunRow')).toHaveCount(12, {
      timeout: 30000
    });
    await view.locator('th', { hasText: 'acc' }).click();
    await expect(view.locator('.jp-mlops-RunRow').first()).toContainText(
      'run 11'
    );
    await page.screenshot({ path: `${SCREENSHOTS}/runs-view-1280.png` });
  });
  test("a job's run: its cells' runs under it, its output notebook", async ({
    page
  }) => {
    test.setTimeout(180000);
    const name = `job-demo-${Date.now().toString(36)}`;
    // A job's run and the run of one of its tracked cells, as the job entrypoint and
    // the deliverer record them (tags, MLflow's parent run), in the server's store.
    const code = [
      'import nbformat',
      'from mlflow import MlflowClient',
      'from jupyter_mlops import settings',
      's = settings.from_kernel_environment()',
      'c = MlflowClient(s.tracking_uri)',
      `exp = c.create_experiment('${name}')`,
      `out = str(s.root_dir / '${name}-output.ipynb')`,
      'nbformat.write(nbformat.v4.new_notebook(), out)',
      "job = c.create_run(exp, run_name='nightly', tags={'jupyter_mlops.source': 'job', 'jupyter_mlops.job': 'nightly', 'jupyter_mlops.job.output': out})",
      "cell = c.create_run(exp, run_name='fit in job', tags={'jupyter_mlops.source': 'cell', 'mlflow.parentRunId': job.info.run_id})",
      "c.log_metric(cell.info.run_id, 'score', 0.875)",
      "c.log_metric(job.info.run_id, 'score', 0.875)",
      'c.set_terminated(cell.info.run_id)',
      'c.set_terminated(job.info.run_id)',
      "print('experiment', exp)"
    ].join('\n');
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(0, 'code', code);
    await page.notebook.runCellByCell();
    const output = page.locator('.jp-OutputArea-output', {
      hasText: /experiment \d+/
    });
    await expect(output).toHaveCount(1, { timeout: 60000 });
    const experimentId = (await output.innerText()).match(
      /experiment (\d+)/
    )![1];
    await page.evaluate(
      id =>
        (window as any).jupyterapp.commands.execute('mlops:open-runs', {
          experimentId: id
        }),
      experimentId
    );
    const view = page.locator('.jp-mlops-RunsWidget');
    const rows = view.locator('.jp-mlops-RunRow');
    await expect(rows).toHaveCount(2, { timeout: 30000 });
    // Newest first would put the cell's run on top: it is under the job's run instead.
    await expect(rows.nth(0)).toContainText('nightly');
    await expect(rows.nth(1)).toHaveClass(/jp-mod-child/);
    await expect(rows.nth(1)).toContainText('fit in job');

    await view.locator('.jp-mlops-RunName', { hasText: 'nightly' }).click();
    const details = page.locator('.jp-mlops-RunDetails');
    const cells = details.locator('.jp-mlops-JobCellRuns');
    await expect(cells).toContainText('fit in job', { timeout: 30000 });
    await expect(cells).toContainText('score');
    await expect(cells).toContainText('0.8750');
    await expect(
      details.getByRole('button', { name: 'Open the notebook at this cell' })
    ).toHaveCount(0);
    await page.screenshot({ path: `${SCREENSHOTS}/job-run-details.png` });
    await details
      .getByRole('button', { name: 'Open the output notebook' })
      .click();
    await expect(
      page.locator('.lm-TabBar-tab', { hasText: `${name}-output.ipynb` })
    ).toBeVisible({ timeout: 30000 });
  });
});
