import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@jupyterlab/galata';

import { notebookJson } from './notebooks';

/**
 * The run form of an exported job, generated from its parameter JSON Schema by
 * JupyterLab's rjsf form: typed inputs with their defaults and help, a message beside a
 * wrong value, and a run with changed values that the job really receives.
 */

const SCREENSHOTS = 'screenshots';
const NOTEBOOK = 'galata-run-form.ipynb';
const JOB = 'galata-run-form';

function notebook(): string {
  const code = (source: string, tags: string[] = []) => ({ source, tags });
  return notebookJson([
    code(
      [
        'epochs = 3  # passes over the data',
        'lr = 0.01  # learning rate',
        'optimizer = "adam"  # which optimizer',
        'shuffle = True  # shuffle every epoch',
        'layers: list[int] = [16, 8]  # hidden layer sizes',
        'dropouts = [0.1, 0.2]  # one per layer'
      ].join('\n'),
      ['parameters']
    ),
    code(
      'print(f"ran epochs={epochs!r} lr={lr!r} optimizer={optimizer!r} shuffle={shuffle!r} layers={layers!r} dropouts={dropouts!r}")'
    )
  ]);
}

/** axe's WCAG 2 A/AA violations within `selector`, as readable lines. */
async function violations(page: any, selector: string): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .include(selector)
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations.flatMap(violation =>
    violation.nodes.map(
      node => `${violation.id}: ${violation.help} at ${node.target.join(' ')}`
    )
  );
}

test.describe('Run form', () => {
  test('is generated from the job schema, refuses a wrong value beside its field and runs with the values typed', async ({
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

    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-jp-item-name="mlops-export"] button'
      )
      .click();
    const dialog = page.locator('.jp-mlops-export-dialog');
    await expect(dialog.getByLabel('Job name')).toHaveValue(JOB);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    const result = dialog.getByTestId('mlops-job-result');
    await expect(result).toBeVisible({ timeout: 120000 });
    await result.getByRole('tab', { name: 'Run' }).click();

    // One input per parameter, typed as the schema says, filled with its default.
    const form = result.locator('form.jp-mlops-runForm');
    const epochs = form.getByLabel('epochs', { exact: true });
    const lr = form.getByLabel('lr', { exact: true });
    const optimizer = form.getByLabel('optimizer', { exact: true });
    const shuffle = form.getByLabel('shuffle: bool');
    const layers = form.getByLabel('layers item');
    const dropouts = form.getByLabel('dropouts', { exact: true });
    await expect(epochs).toHaveAttribute('type', 'number');
    await expect(epochs).toHaveValue('3');
    await expect(lr).toHaveAttribute('type', 'number');
    await expect(lr).toHaveValue('0.01');
    await expect(optimizer).toHaveAttribute('type', 'text');
    await expect(optimizer).toHaveValue('adam');
    await expect(shuffle).toHaveAttribute('type', 'checkbox');
    await expect(shuffle).toBeChecked();
    await expect(layers).toHaveCount(2);
    await expect(layers.nth(0)).toHaveValue('16');
    await expect(layers.nth(1)).toHaveValue('8');
    // An untyped list is JSON text.
    await expect(dropouts).toHaveValue('[0.1,0.2]');
    // Titles say the Python type, help is the parameters cell's comment.
    await expect(form).toContainText('epochs: int');
    await expect(form).toContainText('layers: list[int]');
    await expect(form).toContainText('dropouts: list');
    await expect(form).toContainText('passes over the data');
    await expect(form).toContainText('hidden layer sizes');
    await page.screenshot({ path: `${SCREENSHOTS}/run-form-light.png` });
    await dropouts.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SCREENSHOTS}/run-form-lists-light.png` });
    expect(await violations(page, 'form.jp-mlops-runForm')).toEqual([]);

    // A wrong value is refused beside its field, before the server is asked.
    const field = (input: any) =>
      input.locator('xpath=ancestor::div[contains(@class, "form-group")][1]');
    await epochs.fill('2.5');
    const run = form.locator('button[type=submit]');
    await run.click();
    await expect(field(epochs).locator('.validationErrors')).toHaveText(
      'Must be an integer.'
    );
    await dropouts.fill('[0.1, 0.2');
    await run.click();
    await expect(field(dropouts).locator('.validationErrors')).toContainText(
      'Not valid JSON'
    );
    await expect(field(lr).locator('.validationErrors')).toHaveText('');
    await expect(result.getByTestId('mlops-execution')).toHaveCount(0);
    await page.theme.setDarkTheme();
    await expect(field(epochs).locator('.validationErrors')).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/run-form-dark.png` });
    expect(await violations(page, 'form.jp-mlops-runForm')).toEqual([]);
    await page.theme.setLightTheme();

    // Fixed, the message goes; other values changed, a list item added.
    await epochs.fill('5');
    await expect(field(epochs).locator('.validationErrors')).toHaveText('');
    await lr.fill('0.5');
    await optimizer.fill('sgd');
    await shuffle.uncheck();
    await layers.nth(0).fill('32');
    await form.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(layers).toHaveCount(3);
    await layers.nth(2).fill('4');
    await dropouts.fill('[0.5, 0.25, 0]');
    await run.click();

    const execution = result.getByTestId('mlops-execution');
    await expect(execution.locator('[data-status]')).toHaveAttribute(
      'data-status',
      'succeeded',
      { timeout: 180000 }
    );
    await page.screenshot({ path: `${SCREENSHOTS}/run-form-ran.png` });

    // The job ran with the values typed, as Python values of the parameters' types.
    await execution
      .getByRole('link', { name: 'Open the output notebook' })
      .click();
    const output = page.locator('.jp-NotebookPanel:visible');
    await expect(output.locator('.jp-OutputArea-output').last()).toContainText(
      "ran epochs=5 lr=0.5 optimizer='sgd' shuffle=False layers=[32, 8, 4] dropouts=[0.5, 0.25, 0]",
      { timeout: 30000 }
    );
  });
});
