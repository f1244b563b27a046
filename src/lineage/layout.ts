/**
 * Where each node of a lineage graph goes: a layered layout from left (data, code) to
 * right (job runs, outputs) by dagre, with the edges' bend points.
 */
import { graphlib, layout } from '@dagrejs/dagre';

import type { LineageGraph, LineageNode } from '../api/lineage';

export interface IPlacedNode {
  node: LineageNode;
  /** The centre, in SVG user units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IPlacedEdge {
  source: string;
  target: string;
  relation: string;
  points: { x: number; y: number }[];
}

export interface IPlacedGraph {
  width: number;
  height: number;
  nodes: IPlacedNode[];
  edges: IPlacedEdge[];
}

export const NODE_HEIGHT = 44;
const MARGIN = 16;

/** A node's width: its label's, within bounds (labels are cut to fit). */
export function nodeWidth(label: string): number {
  return Math.min(240, Math.max(120, 7.2 * label.length + 28));
}

/** The graph laid out; an edge naming a node the graph lacks is left out. */
export function placeGraph(graph: LineageGraph): IPlacedGraph {
  const g = new graphlib.Graph();
  g.setGraph({
    rankdir: 'LR',
    nodesep: 18,
    ranksep: 64,
    marginx: MARGIN,
    marginy: MARGIN
  });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set<string>();
  for (const node of graph.nodes) {
    ids.add(node.id);
    g.setNode(node.id, { width: nodeWidth(node.label), height: NODE_HEIGHT });
  }
  const edges = graph.edges.filter(e => ids.has(e.source) && ids.has(e.target));
  for (const edge of edges) {
    g.setEdge(edge.source, edge.target);
  }
  layout(g);
  const label = g.graph();
  return {
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
    nodes: graph.nodes.map(node => {
      const placed = g.node(node.id);
      return {
        node,
        x: placed.x,
        y: placed.y,
        width: placed.width,
        height: placed.height
      };
    }),
    edges: edges.map(edge => ({
      ...edge,
      points: (g.edge(edge.source, edge.target).points ?? []).map(
        (p: { x: number; y: number }) => ({
          x: p.x,
          y: p.y
        })
      )
    }))
  };
}

/** An SVG path through the points. */
export function edgePath(points: { x: number; y: number }[]): string {
  return points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
    .join(' ');
}
