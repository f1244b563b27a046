import { expect, test } from '@jupyterlab/galata';

test.describe('Run card link', () => {
  test('opens the run in this JupyterLab, not in a new tab', async ({
    page,
    context
  }) => {
    test.setTimeout(180000);
    const name = `card-link-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(0, 'code', '%load_ext jupyter_mlops');
    await page.notebook.addCell(
      'code',
      "%%track --name 'card link'\nalpha = 0.5\nscore = alpha * 2"
    );
    await page.notebook.runCellByCell();
    const card = page.locator('.jp-mlops-RunCard', {
      hasText: 'saved to MLflow'
    });
    await expect(card).toHaveCount(1, { timeout: 60000 });

    let newPages = 0;
    context.on('page', () => newPages++);
    await card.getByRole('link', { name: 'run details' }).click();
    const details = page.locator('.jp-mlops-RunDetails');
    await expect(details).toContainText('alpha', { timeout: 30000 });
    await expect(details).toContainText('card link');
    expect(newPages).toBe(0);
    expect(page.url()).not.toContain('mlops-run=');
  });
});
