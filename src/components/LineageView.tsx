import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { LineageGraph, LineageNode } from '../api/lineage';
import { edgePath, placeGraph } from '../lineage/layout';

/** The kinds' names as people read them. */
export function kindLabel(
  kind: LineageNode['kind'],
  trans: TranslationBundle
): string {
  switch (kind) {
    case 'data':
      return trans.__('data version');
    case 'commit':
      return trans.__('commit');
    case 'notebook':
      return trans.__('notebook');
    case 'run':
      return trans.__('run');
    case 'model_version':
      return trans.__('model version');
    case 'job':
      return trans.__('job');
    case 'image':
      return trans.__('image');
    case 'deployment':
      return trans.__('deployment');
    case 'job_run':
      return trans.__('job run');
    case 'output':
      return trans.__('output notebook');
  }
}

/** `text` cut to `max` characters with an ellipsis. */
function fit(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

interface ILineageViewProps {
  graph: LineageGraph;
  trans: TranslationBundle;
  /** Open the view of a node that has one (its `link`). */
  onOpen: (node: LineageNode) => void;
}

/**
 * A lineage graph drawn as SVG, left (data, code) to right (job runs, outputs). Every
 * node can be focused (Tab); Enter, Space or a click opens its view; the focused node's
 * facts are listed under the graph.
 */
export function LineageView(props: ILineageViewProps): JSX.Element {
  const { graph, trans, onOpen } = props;
  const placed = React.useMemo(() => placeGraph(graph), [graph]);
  const [selected, setSelected] = React.useState<string>(graph.root);
  const current =
    graph.nodes.find(n => n.id === selected) ??
    graph.nodes.find(n => n.id === graph.root);
  const markerId = React.useId().replace(/:/g, '');

  const activate = (node: LineageNode) => {
    setSelected(node.id);
    if (node.link) {
      onOpen(node);
    }
  };

  return (
    <div className="jp-mlops-Lineage">
      <div className="jp-mlops-Lineage-canvas">
        <svg
          className="jp-mlops-Lineage-svg"
          width={placed.width}
          height={placed.height}
          viewBox={`0 0 ${placed.width} ${placed.height}`}
          role="group"
          aria-label={trans.__('Lineage graph')}
        >
          <defs>
            <marker
              id={markerId}
              viewBox="0 0 10 10"
              refX="10"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path
                d="M 0 0 L 10 5 L 0 10 z"
                className="jp-mlops-Lineage-arrow"
              />
            </marker>
          </defs>
          {placed.edges.map(edge => {
            const middle = edge.points[Math.floor(edge.points.length / 2)];
            return (
              <g
                key={`${edge.source}->${edge.target}`}
                className="jp-mlops-Lineage-edge"
                data-source={edge.source}
                data-target={edge.target}
              >
                <path
                  d={edgePath(edge.points)}
                  markerEnd={`url(#${markerId})`}
                />
                {middle && (
                  <text x={middle.x} y={middle.y - 4} textAnchor="middle">
                    {edge.relation}
                  </text>
                )}
              </g>
            );
          })}
          {placed.nodes.map(({ node, x, y, width, height }) => {
            const classes = [
              'jp-mlops-Lineage-node',
              `jp-mlops-Lineage-node-${node.kind}`,
              node.id === graph.root ? 'jp-mlops-mod-root' : '',
              node.id === selected ? 'jp-mlops-mod-selected' : '',
              node.link ? 'jp-mlops-mod-link' : ''
            ];
            const kind = kindLabel(node.kind, trans);
            return (
              <g
                key={node.id}
                className={classes.filter(Boolean).join(' ')}
                transform={`translate(${x - width / 2},${y - height / 2})`}
                tabIndex={0}
                role={node.link ? 'button' : 'img'}
                aria-label={`${kind}: ${node.label}`}
                data-id={node.id}
                onFocus={() => setSelected(node.id)}
                onClick={() => activate(node)}
                onKeyDown={event => {
                  if (event.key === 'Enter' || event.key === ' ') {
                    event.preventDefault();
                    activate(node);
                  }
                }}
              >
                <title>{`${kind}: ${node.label}`}</title>
                <rect width={width} height={height} rx={6} ry={6} />
                <rect
                  className="jp-mlops-Lineage-stripe"
                  width={5}
                  height={height}
                  rx={2}
                />
                <text className="jp-mlops-Lineage-kind" x={12} y={16}>
                  {kind}
                </text>
                <text className="jp-mlops-Lineage-label" x={12} y={33}>
                  {fit(node.label, Math.floor((width - 20) / 7.2))}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      {current && (
        <div className="jp-mlops-Lineage-details" aria-live="polite">
          <div className="jp-mlops-Lineage-detailsTitle">
            <span className="jp-mlops-Muted">
              {kindLabel(current.kind, trans)}
            </span>{' '}
            <strong>{current.label}</strong>
            {current.link && (
              <Button
                type="button"
                minimal
                small
                onClick={() => onOpen(current)}
              >
                {trans.__('Open')}
              </Button>
            )}
          </div>
          <table className="jp-mlops-KeyValues">
            <tbody>
              {Object.entries(current.attrs ?? {}).map(([key, value]) => (
                <tr key={key}>
                  <td>{key}</td>
                  <td>
                    <code>{value}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {graph.truncated && (
        <div className="jp-mlops-Muted">
          {trans.__('Only the newest runs of each job are shown.')}
        </div>
      )}
    </div>
  );
}
