import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { act, mount, settle } from './react';

import type {
  AliasChange,
  GateResult,
  ModelDetail,
  ModelsClient,
  ModelsResponse
} from '../api/models';
import { MlopsApiError } from '../api/request';
import { ModelsView } from '../components/ModelsView';
import { splitCard } from '../models/plugin';

const trans = nullTranslator.load('jupyter_mlops');

const REFUSED: GateResult = {
  name: 'churn',
  version: '2',
  alias: 'champion',
  passed: false,
  conditions: [
    {
      name: 'metric',
      title: "Metric at least as good as the current holder's",
      result: 'failed',
      reason:
        "accuracy = 0.8 is worse than version 1's 0.9 (the current @champion)."
    },
    {
      name: 'drift',
      title: 'A passing drift check',
      result: 'cannot_evaluate',
      reason: 'The run recorded no drift check (drift_share or drift).'
    },
    {
      name: 'card',
      title: 'A model card present',
      result: 'passed',
      reason: 'Model card logged (model_cards/churn-v2.md).'
    }
  ]
};

const DETAIL: ModelDetail = {
  name: 'churn',
  description: null,
  aliases: { champion: '1' },
  latest_version: '2',
  updated: 1,
  versions: [
    {
      version: '2',
      run_id: 'r2',
      aliases: [],
      tags: {},
      created: 2,
      source: null,
      status: null
    },
    {
      version: '1',
      run_id: 'r1',
      aliases: ['champion'],
      tags: { 'jupyter_mlops.card': 'model_cards/churn-v1.md' },
      created: 1,
      source: null,
      status: null
    }
  ]
};

class FakeClient {
  promoted: Array<{ alias: string; body: unknown }> = [];
  demoted: string[] = [];
  list(): Promise<ModelsResponse> {
    return Promise.resolve({
      models: [
        {
          name: 'churn',
          aliases: DETAIL.aliases,
          latest_version: '2',
          description: null,
          updated: 1
        }
      ]
    });
  }
  show(): Promise<ModelDetail> {
    return Promise.resolve(DETAIL);
  }
  gate(): Promise<GateResult> {
    return Promise.resolve(REFUSED);
  }
  promote(
    name: string,
    alias: string,
    body: { version: string; reason?: string; force?: boolean }
  ): Promise<AliasChange> {
    this.promoted.push({ alias, body });
    return Promise.resolve({} as AliasChange);
  }
  demote(name: string, alias: string): Promise<AliasChange> {
    this.demoted.push(alias);
    return Promise.reject(
      new MlopsApiError('The tracking store failed: down', 503, 'x')
    );
  }
  card(): Promise<string> {
    return Promise.resolve('---\nlibrary_name: sklearn\n---\n# churn v1\n');
  }
}

function button(host: HTMLElement, text: string): HTMLButtonElement {
  const found = Array.from(host.querySelectorAll('button')).find(
    b => b.textContent?.trim() === text
  );
  if (!found) {
    throw new Error(`no button '${text}'`);
  }
  return found as HTMLButtonElement;
}

function click(element: HTMLElement): void {
  act(() => {
    element.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  });
}

function type(element: HTMLTextAreaElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(
    HTMLTextAreaElement.prototype,
    'value'
  )!.set!;
  act(() => {
    setter.call(element, value);
    element.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

describe('ModelsView', () => {
  it('shows each gate condition and needs a reason to override a refusing gate', async () => {
    const client = new FakeClient();
    const rendered: string[] = [];
    const { host, unmount } = mount(
      <ModelsView
        client={client as unknown as ModelsClient}
        trans={trans}
        render={(_host, markdown) => rendered.push(markdown)}
        initial={{ name: 'churn' }}
      />
    );
    await settle();
    expect(host.querySelector('.jp-mlops-ModelList')!.textContent).toContain(
      '@champion v1'
    );
    const rows = host.querySelectorAll('tr[data-version]');
    expect(rows).toHaveLength(2);
    click(
      Array.from(rows[0].querySelectorAll('button')).find(
        b => b.textContent === 'Promote…'
      ) as HTMLButtonElement
    );
    click(button(host, 'Check the gate'));
    await settle();
    const items = Array.from(
      host.querySelectorAll<HTMLLIElement>('.jp-mlops-GateConditions li')
    );
    expect(items.map(i => i.dataset.condition)).toEqual([
      'metric',
      'drift',
      'card'
    ]);
    expect(items[0].classList).toContain('jp-mlops-mod-failed');
    expect(items[0].textContent).toContain("worse than version 1's 0.9");
    expect(items[1].textContent).toContain('cannot be evaluated');
    const override = button(host, 'Override and promote');
    expect(override.disabled).toBe(true);
    type(host.querySelector('textarea')!, 'hotfix for the churn spike');
    expect(button(host, 'Override and promote').disabled).toBe(false);
    click(button(host, 'Override and promote'));
    await settle();
    expect(client.promoted).toEqual([
      {
        alias: 'champion',
        body: {
          version: '2',
          reason: 'hotfix for the churn spike',
          force: true
        }
      }
    ]);
    unmount();
  });

  it('renders the card and says why a demotion failed', async () => {
    const client = new FakeClient();
    const rendered: string[] = [];
    const { host, unmount } = mount(
      <ModelsView
        client={client as unknown as ModelsClient}
        trans={trans}
        render={(_host, markdown) => rendered.push(markdown)}
        initial={{ name: 'churn', version: '1' }}
      />
    );
    await settle();
    await settle();
    expect(rendered).toEqual(['---\nlibrary_name: sklearn\n---\n# churn v1\n']);
    const download = host.querySelector<HTMLAnchorElement>(
      '.jp-mlops-ModelCard-download'
    )!;
    expect(download.getAttribute('download')).toBe('churn-v1-card.md');
    click(host.querySelector<HTMLButtonElement>('.jp-mlops-AliasChip-remove')!);
    await settle();
    expect(client.demoted).toEqual(['champion']);
    expect(host.querySelector('[role="alert"]')!.textContent).toContain(
      'The tracking store failed: down'
    );
    unmount();
  });
});

describe('splitCard', () => {
  it('parts the YAML metadata from the Markdown', () => {
    expect(splitCard('---\na: 1\n---\n# T\n')).toEqual({
      metadata: 'a: 1',
      body: '# T\n'
    });
    expect(splitCard('# no metadata')).toEqual({
      metadata: '',
      body: '# no metadata'
    });
  });
});
