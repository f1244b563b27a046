import * as React from 'react';
import uPlot from 'uplot';

/** One line (or set of points) of a chart. */
export interface IChartSeries {
  label: string;
  /** [x, y]; y is null where a value is not a number (NaN or infinite in MLflow). */
  points: [number, number | null][];
}

interface IChartProps {
  series: IChartSeries[];
  xLabel: string;
  yLabel?: string;
  mode?: 'line' | 'scatter';
  height?: number;
  /** Category axis labels, when x holds indices of categories. */
  xCategories?: string[];
  /** Each series' colour as a theme variable (`--jp-success-color1`); else the palette. */
  colors?: string[];
}

/** A categorical palette that reads well on the light and the dark themes. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

const INTEGER_TICKS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6
];

function themeColor(variable: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(variable);
  return value.trim() || fallback;
}

/** The current JupyterLab theme's name; charts are redrawn in its colours when it changes. */
function useThemeName(): string {
  const read = () => document.body.dataset.jpThemeName ?? '';
  const [theme, setTheme] = React.useState(read);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setTheme(read()));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return theme;
}

/** Merge series with different x values onto one sorted x axis (uPlot's data shape). */
export function alignSeries(series: IChartSeries[]): uPlot.AlignedData {
  const xs = Array.from(
    new Set(series.flatMap(s => s.points.map(p => p[0])))
  ).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = series.map(s => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    for (const [x, y] of s.points) {
      column[index.get(x)!] = y;
    }
    return column;
  });
  return [xs, ...columns] as uPlot.AlignedData;
}

/** A line or scatter chart drawn by uPlot, sized to its container, in theme colours. */
export function Chart(props: IChartProps): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const { series, xLabel, yLabel, mode = 'line', height = 180 } = props;
  const theme = useThemeName();
  React.useEffect(() => {
    const node = host.current;
    if (!node || series.length === 0) {
      return;
    }
    const axis = themeColor('--jp-ui-font-color2', '#888');
    const grid = themeColor('--jp-border-color2', '#ddd');
    const scatter = mode === 'scatter';
    const categories = props.xCategories;
    const colour = (i: number) =>
      props.colors?.[i]
        ? themeColor(props.colors[i], PALETTE[i % PALETTE.length])
        : PALETTE[i % PALETTE.length];
    const options: uPlot.Options = {
      width: Math.max(200, node.clientWidth),
      height,
      legend: { show: series.length > 1 || scatter },
      scales: { x: { time: false } },
      axes: [
        {
          label: xLabel,
          stroke: axis,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          values: categories
            ? (_u, ticks) => ticks.map(t => categories[Math.round(t)] ?? '')
            : undefined,
          // Steps and categories are whole numbers: no ticks between them.
          incrs: scatter && !categories ? undefined : INTEGER_TICKS
        },
        {
          label: yLabel,
          stroke: axis,
          grid: { stroke: grid },
          ticks: { stroke: grid }
        }
      ],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: colour(i),
          width: scatter ? 0 : 2,
          spanGaps: true,
          paths: scatter ? () => null : undefined,
          points: {
            show: scatter || s.points.length < 30,
            size: scatter ? 8 : 5,
            fill: colour(i)
          }
        }))
      ]
    };
    const plot = new uPlot(options, alignSeries(series), node);
    const observer = new ResizeObserver(() => {
      plot.setSize({ width: Math.max(200, node.clientWidth), height });
    });
    observer.observe(node);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [
    series,
    xLabel,
    yLabel,
    mode,
    height,
    props.xCategories,
    props.colors,
    theme
  ]);
  return <div className="jp-mlops-Chart" ref={host} />;
}
