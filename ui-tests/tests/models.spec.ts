import { expect, test } from '@jupyterlab/galata';

const SCREENSHOTS = 'screenshots';

test.describe('Models', () => {
  test('a model logged from a tracked cell is promoted through the gate with a reason; its card renders', async ({
    page
  }) => {
    test.setTimeout(300000);
    const name = `iris-${Date.now().toString(36)}`;
    await page.notebook.createNew(`${name}.ipynb`);
    await page.notebook.setCell(0, 'code', '%load_ext jupyter_mlops');
    await page.notebook.addCell(
      'code',
      [
        '%%track --name fit',
        'from sklearn.datasets import load_iris',
        'from sklearn.linear_model import LogisticRegression',
        'X, y = load_iris(return_X_y=True)',
        'model = LogisticRegression(max_iter=300).fit(X, y)',
        'accuracy = model.score(X, y)',
        `info = jupyter_mlops.log_model(model, name='${name}')`
      ].join('\n')
    );
    await page.notebook.runCellByCell();
    await expect(
      page.locator('.jp-mlops-RunCard', { hasText: 'saved to MLflow' })
    ).toHaveCount(1, { timeout: 120000 });

    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('mlops:open-models')
    );
    const view = page.locator('.jp-mlops-ModelsWidget');
    await view.getByRole('button', { name }).click();
    const row = view.locator('tr[data-version="1"]');
    await expect(row).toBeVisible({ timeout: 30000 });
    await row.getByRole('button', { name: 'Promote…' }).click();
    const dialog = view.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Check the gate' }).click();
    // No gate metric is configured and the run has no drift check: the gate refuses
    // and says why, condition by condition.
    const metric = dialog.locator('li[data-condition="metric"]');
    await expect(metric).toContainText('cannot be evaluated', {
      timeout: 30000
    });
    await expect(metric).toContainText('No gate metric is set');
    await expect(dialog.locator('li[data-condition="card"]')).toContainText(
      'failed'
    );
    const override = dialog.getByRole('button', {
      name: 'Override and promote'
    });
    await expect(override).toBeDisabled();
    await dialog.locator('textarea').fill('first model of the project');
    await page.screenshot({ path: `${SCREENSHOTS}/models-gate-light.png` });
    await override.click();
    await expect(row.locator('.jp-mlops-AliasChip')).toContainText(
      '@champion',
      { timeout: 30000 }
    );

    await row.getByRole('button', { name: 'Card' }).click();
    const card = view.locator('.jp-mlops-ModelCard-body');
    await expect(card.locator('h2', { hasText: 'Approvals' })).toBeVisible({
      timeout: 60000
    });
    await expect(card).toContainText('first model of the project');
    // Logged on the version: its row says it has a card now.
    await expect(row.locator('td').nth(3)).toHaveText('✓', { timeout: 30000 });
    await expect(card).toContainText('To be completed.');
    await expect(view.locator('.jp-mlops-ModelCard-download')).toHaveAttribute(
      'download',
      `${name}-v1-card.md`
    );
    await page.theme.setDarkTheme();
    await page.screenshot({ path: `${SCREENSHOTS}/models-card-dark.png` });
    await page.theme.setLightTheme();
  });
});
