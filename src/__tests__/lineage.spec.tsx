import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { act, mount, settle } from './react';

// What browsers have and jsdom lacks: dagre clones with structuredClone.
declare const require: (id: string) => any;
const v8 = require('v8');
(globalThis as any).structuredClone ??= (value: unknown) =>
  v8.deserialize(v8.serialize(value));

import type {
  AuditList,
  AuditVerification,
  IAuditQuery,
  LineageClient,
  LineageGraph,
  LineageNode
} from '../api/lineage';
import { rootKey } from '../api/lineage';
import { AuditModel, auditQuery, isoTime } from '../audit/model';
import { AuditView } from '../components/AuditView';
import { LineageView } from '../components/LineageView';
import { edgePath, placeGraph } from '../lineage/layout';
import { lineageRoot } from '../lineage/plugin';

const trans = nullTranslator.load('jupyter_mlops');

/** A graph as the server sends it for a model version trained in a job. */
const GRAPH: LineageGraph = {
  root: 'model_version:churn/2',
  truncated: false,
  nodes: [
    {
      id: 'data:data.csv@abc',
      kind: 'data',
      label: 'data.csv @ abc',
      attrs: { path: 'data.csv', version: 'abc' },
      link: { view: 'data', target: 'data.csv', version: 'abc' }
    },
    { id: 'commit:123', kind: 'commit', label: '123', attrs: {}, link: null },
    {
      id: 'run:r1',
      kind: 'run',
      label: 'fit',
      attrs: { status: 'FINISHED' },
      link: { view: 'run', target: 'r1', version: null }
    },
    {
      id: 'model_version:churn/2',
      kind: 'model_version',
      label: 'churn v2',
      attrs: { aliases: 'champion' },
      link: { view: 'model_version', target: 'churn/2', version: null }
    },
    {
      id: 'output:out.ipynb',
      kind: 'output',
      label: 'out.ipynb',
      attrs: {},
      link: { view: 'notebook', target: 'out.ipynb', version: null }
    }
  ],
  edges: [
    { source: 'data:data.csv@abc', target: 'run:r1', relation: 'read by' },
    { source: 'commit:123', target: 'run:r1', relation: 'code of' },
    {
      source: 'run:r1',
      target: 'model_version:churn/2',
      relation: 'registered as'
    },
    { source: 'run:r1', target: 'output:out.ipynb', relation: 'wrote' },
    { source: 'run:r1', target: 'nowhere', relation: 'dangling' }
  ]
};

describe('lineage layout', () => {
  it('places every node, each edge from left to right, and drops dangling edges', () => {
    const placed = placeGraph(GRAPH);
    expect(placed.nodes).toHaveLength(5);
    expect(placed.edges).toHaveLength(4);
    const x = Object.fromEntries(placed.nodes.map(n => [n.node.id, n.x]));
    for (const edge of placed.edges) {
      expect(x[edge.source]).toBeLessThan(x[edge.target]);
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
    }
    expect(placed.width).toBeGreaterThan(0);
    expect(placed.height).toBeGreaterThan(0);
    expect(
      edgePath([
        { x: 1, y: 2 },
        { x: 3.25, y: 4 }
      ])
    ).toBe('M1.0,2.0 L3.3,4.0');
  });
});

describe('LineageView', () => {
  it('draws focusable nodes; Enter and clicks open the linked ones', () => {
    const opened: LineageNode[] = [];
    const { host, unmount } = mount(
      <LineageView graph={GRAPH} trans={trans} onOpen={n => opened.push(n)} />
    );
    const nodes = Array.from(host.querySelectorAll<SVGGElement>('g[data-id]'));
    expect(nodes.map(n => n.getAttribute('tabindex'))).toEqual(
      Array(5).fill('0')
    );
    const root = host.querySelector('g[data-id="model_version:churn/2"]')!;
    expect(root.classList).toContain('jp-mlops-mod-root');
    expect(root.getAttribute('aria-label')).toBe('model version: churn v2');
    // The root's facts are listed first.
    expect(
      host.querySelector('.jp-mlops-Lineage-details')!.textContent
    ).toContain('champion');

    const run = host.querySelector('g[data-id="run:r1"]')!;
    act(() => {
      run.dispatchEvent(
        new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
      );
    });
    expect(opened.map(n => n.id)).toEqual(['run:r1']);
    expect(
      host.querySelector('.jp-mlops-Lineage-details')!.textContent
    ).toContain('FINISHED');
    // A node with no view to open is selected, not opened.
    const commit = host.querySelector('g[data-id="commit:123"]')!;
    act(() => {
      commit.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    });
    expect(opened).toHaveLength(1);
    expect(commit.getAttribute('role')).toBe('img');
    act(() => {
      host
        .querySelector('g[data-id="output:out.ipynb"]')!
        .dispatchEvent(new MouseEvent('click', { bubbles: true }));
    });
    expect(opened.map(n => n.link?.target)).toEqual(['r1', 'out.ipynb']);
    expect(host.querySelectorAll('.jp-mlops-Lineage-edge')).toHaveLength(4);
    unmount();
  });
});

describe('lineage roots', () => {
  it('come from the arguments, else from the run tab in focus', () => {
    expect(lineageRoot({ runId: 'abc' }, undefined)).toEqual({ runId: 'abc' });
    expect(lineageRoot({ model: 'm', version: 3 }, undefined)).toEqual({
      model: 'm',
      version: '3'
    });
    expect(lineageRoot({ output: 'o.ipynb' }, 'jp-mlops-run-x')).toEqual({
      output: 'o.ipynb'
    });
    expect(lineageRoot({}, 'jp-mlops-run-abc123')).toEqual({ runId: 'abc123' });
    expect(lineageRoot({}, 'notebook-1')).toBeNull();
    expect(lineageRoot({ model: 'm' }, undefined)).toBeNull();
    expect(rootKey({ model: 'm', version: '1' })).toBe('model:m/1');
  });
});

function entry(seq: number, kind: string, subject: string) {
  return {
    seq,
    kind,
    subject,
    time: `2026-12-06T05:0${seq}:00+00:00`,
    who: 'alice',
    what: { image_digest: `sha256:${seq}` },
    prev: '0'.repeat(64),
    hash: `${seq}`.repeat(64)
  };
}

/** The two audit routes, answering from a list as the server would. */
class AuditRoutes {
  queries: IAuditQuery[] = [];
  verification: AuditVerification = {
    intact: true,
    entries: 3,
    first_bad: null,
    head: '3'.repeat(64)
  };
  all = [
    entry(1, 'export', 'churn'),
    entry(2, 'build', 'churn'),
    entry(3, 'deploy', 'churn')
  ];

  async audit(query: IAuditQuery): Promise<AuditList> {
    this.queries.push(query);
    const kinds = query.kind?.split(',');
    const found = this.all
      .filter(e => !kinds || kinds.includes(e.kind))
      .filter(e => !query.cursor || e.seq < query.cursor)
      .reverse();
    const page = found.slice(0, query.limit);
    return {
      entries: page,
      next_cursor: found.length > page.length ? page[page.length - 1].seq : null
    };
  }

  async verifyAudit(): Promise<AuditVerification> {
    return this.verification;
  }
}

describe('audit timeline', () => {
  it('turns the filters into a query', () => {
    expect(
      auditQuery(
        { kind: ' export, build ', subject: '', since: '', until: '' },
        50
      )
    ).toEqual({
      kind: 'export,build',
      subject: undefined,
      since: undefined,
      until: undefined,
      limit: 50
    });
    expect(isoTime('2026-12-06T05:00')).toMatch(
      /^2026-12-0[56]T\d\d:00:00.000Z$/
    );
    expect(isoTime('')).toBeUndefined();
  });

  it('lists entries newest first, pages back, and says the chain is intact', async () => {
    const routes = new AuditRoutes();
    const model = new AuditModel(routes as unknown as LineageClient, 2);
    await model.refresh();
    const { host, unmount } = mount(<AuditView model={model} trans={trans} />);
    const seqs = () =>
      Array.from(host.querySelectorAll('tbody tr')).map(r =>
        r.getAttribute('data-seq')
      );
    expect(seqs()).toEqual(['3', '2']);
    expect(host.querySelector('.jp-mlops-AuditStatus')!.textContent).toBe(
      'Chain intact: 3 entries.'
    );
    await act(() => model.loadMore());
    expect(seqs()).toEqual(['3', '2', '1']);
    expect(model.hasMore).toBe(false);
    await act(() =>
      model.setFilters({ kind: 'build', subject: '', since: '', until: '' })
    );
    expect(seqs()).toEqual(['2']);
    expect(routes.queries[routes.queries.length - 1].kind).toBe('build');
    unmount();
  });

  it('marks the first bad entry in the error colour', async () => {
    const routes = new AuditRoutes();
    routes.verification = {
      intact: false,
      entries: 3,
      head: null,
      first_bad: {
        seq: 2,
        line: 2,
        reason: 'edited',
        message: 'entry 2 was edited'
      }
    };
    const model = new AuditModel(routes as unknown as LineageClient);
    const { host, unmount } = mount(<AuditView model={model} trans={trans} />);
    await act(() => model.refresh());
    await settle();
    const status = host.querySelector('.jp-mlops-AuditStatus')!;
    expect(status.classList).toContain('jp-mlops-mod-broken');
    expect(status.getAttribute('role')).toBe('alert');
    expect(status.textContent).toBe(
      'Chain broken at line 2 (edited): entry 2 was edited'
    );
    const bad = host.querySelectorAll('tr.jp-mlops-mod-bad');
    expect(Array.from(bad).map(r => r.getAttribute('data-seq'))).toEqual(['2']);
    unmount();
  });
});
