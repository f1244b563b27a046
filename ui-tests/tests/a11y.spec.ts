import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@jupyterlab/galata';

import { notebookJson } from './notebooks';

/**
 * Automated accessibility checks (axe-core, WCAG 2 A and AA, contrast included) of what
 * jupyter-mlops draws: the panel, its data view, run details, compare, the export dialog and the jobs
 * view, in the light, the dark and the dark high-contrast theme (JupyterLab ships all
 * three). JupyterLab's own interface is not ours to judge here: each check covers our
 * elements only.
 */

// A fresh experiment per attempt (a retry must not find the first attempt's runs).
const NOTEBOOK = `a11y-${Date.now().toString(36)}.ipynb`;
const SCREENSHOTS = 'screenshots';

const TRACKED = (lr: number, acc: number) =>
  [
    '%%track --metrics acc --data a11y.csv',
    `# a11y lr ${lr}`,
    `lr = ${lr}`,
    '_ = [jupyter_mlops.log(step=i, loss=lr * 10 / (i + 1)) for i in range(4)]',
    `acc = ${acc}`
  ].join('\n');

function notebook(): string {
  const code = (source: string, tags: string[] = []) => ({ source, tags });
  return notebookJson([
    code('epochs = 2  # passes over the data', ['parameters']),
    code('%load_ext jupyter_mlops'),
    code('%snapshot a11y.csv -m "a11y data"'),
    code(TRACKED(0.1, 0.8)),
    code(TRACKED(0.3, 0.9))
  ]);
}

/**
 * JupyterLab's own ToolbarButton (which our panel's toolbar uses) renders
 * `aria-pressed="false"` on every jp-button, toggle or not: JupyterLab's to fix, not
 * ours; every other violation counts.
 */
function upstream(id: string, node: { html: string; failureSummary?: string }) {
  return (
    id === 'aria-allowed-attr' &&
    node.html.startsWith('<jp-button') &&
    (node.failureSummary ?? '').includes('aria-pressed="false"')
  );
}

/** axe's WCAG 2 A/AA violations within `selector`, as readable lines. */
async function violations(page: any, selector: string): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .include(selector)
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations.flatMap(violation =>
    violation.nodes
      .filter(node => !upstream(violation.id, node))
      .map(
        node =>
          `${violation.id}: ${violation.help} at ${node.target.join(' ')}` +
          (node.failureSummary ? ` (${node.failureSummary})` : '')
      )
  );
}

/** The themes after the light one: [name in the messages, JupyterLab's theme name]. */
const OTHER_THEMES = [
  ['dark', 'JupyterLab Dark'],
  ['high-contrast', 'JupyterLab Dark High Contrast']
];

/** The check in the light theme, then in the dark and the high-contrast ones. */
async function checkThemes(page: any, selector: string, name: string) {
  await expect(page.locator(selector).first()).toBeVisible();
  expect(await violations(page, selector), `${name}, light theme`).toEqual([]);
  for (const [theme, themeName] of OTHER_THEMES) {
    await page.theme.setTheme(themeName);
    await expect(page.locator(selector).first()).toBeVisible();
    expect(await violations(page, selector), `${name}, ${theme} theme`).toEqual(
      []
    );
    await page.screenshot({ path: `${SCREENSHOTS}/a11y-${name}-${theme}.png` });
  }
  await page.theme.setLightTheme();
}

test.describe('Accessibility', () => {
  test('panel, run details, compare, export dialog and jobs pass axe in light, dark and high contrast', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(300000);
    await page.contents.uploadContent(
      notebook(),
      'text',
      `${tmpPath}/${NOTEBOOK}`
    );
    await page.contents.uploadContent(
      'x,label\n1,0\n2,1\n',
      'text',
      `${tmpPath}/a11y.csv`
    );
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);
    await page.notebook.runCellByCell();
    await expect(
      page.locator('.jp-mlops-RunCard', { hasText: 'saved to MLflow' })
    ).toHaveCount(2, { timeout: 90000 });

    await page.click('.jp-SideBar.jp-mod-left [title="MLOps"]');
    const panel = page.locator('#jp-mlops-panel');
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('mlops:refresh')
    );
    await page.notebook.activate(NOTEBOOK);
    const rows = panel.locator('.jp-mlops-RunRow');
    await expect(rows).toHaveCount(2, { timeout: 30000 });
    await checkThemes(page, '#jp-mlops-panel', 'panel');

    // The Data section with a version open: its badges and the runs that read it.
    const sections = ['Status', 'Experiments', 'Runs'];
    for (const title of sections) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    const data = panel.locator('.jp-mlops-Section-data');
    await data.getByRole('link', { name: `${tmpPath}/a11y.csv` }).click();
    await expect(
      data.locator('.jp-mlops-DataVersion-runs').first()
    ).toContainText('a11y lr 0.1', { timeout: 30000 });
    await checkThemes(page, '.jp-mlops-Section-data', 'data');
    for (const title of sections) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }

    // The full-width Runs view.
    await panel.getByRole('button', { name: 'All runs' }).click();
    const view = page.locator('.jp-mlops-RunsWidget');
    const viewRows = view.locator('.jp-mlops-RunRow');
    await expect(viewRows).toHaveCount(2, { timeout: 30000 });
    await checkThemes(page, '.jp-mlops-RunsWidget', 'runs-view');

    // Run details.
    await view.locator('.jp-mlops-RunName', { hasText: 'a11y lr 0.1' }).click();
    const details = page.locator('.jp-mlops-RunDetails');
    await expect(
      details.locator('.jp-mlops-MetricChart canvas').first()
    ).toBeVisible({ timeout: 30000 });
    await checkThemes(page, '.jp-mlops-RunDetails', 'run-details');

    // Compare, from the Runs view.
    await page.locator('.lm-TabBar-tab[data-id="jp-mlops-runs"]').click();
    for (const checkbox of await viewRows
      .locator('input[type=checkbox]')
      .all()) {
      await checkbox.check();
    }
    await view.getByRole('button', { name: /Compare \(2\)/ }).click();
    const compare = page.locator('.jp-mlops-Compare');
    await expect(compare.locator('tr.jp-mod-differs').first()).toBeVisible({
      timeout: 30000
    });
    await checkThemes(page, '.jp-mlops-Compare', 'compare');

    // The export dialog, before and after an export.
    await page.notebook.activate(NOTEBOOK);
    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"] button'
      )
      .click();
    const dialog = page.locator('.jp-mlops-export-dialog');
    await expect(
      dialog.locator('input[name=target][value=docker]')
    ).toBeChecked();
    await checkThemes(page, '.jp-mlops-export-dialog', 'export-dialog');
    await dialog.getByLabel('Job name').press('Enter');
    await expect(dialog.getByTestId('mlops-job-result')).toBeVisible({
      timeout: 120000
    });
    await checkThemes(page, '.jp-mlops-export-dialog', 'export-result');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(dialog).toHaveCount(0);

    // The jobs view lists the job (the other sections folded to make room).
    await expect(panel).toBeVisible();
    for (const title of ['Status', 'Experiments', 'Runs']) {
      await panel
        .locator('.lm-AccordionPanel-title', { hasText: title })
        .click();
    }
    const jobs = panel.getByTestId('mlops-jobs');
    await expect(jobs.locator('.jp-mlops-export-job').first()).toBeVisible({
      timeout: 30000
    });
    await checkThemes(page, '[data-testid="mlops-jobs"]', 'jobs');
  });
});
