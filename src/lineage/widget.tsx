import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  LineageClient,
  LineageNode,
  LineageRoot,
  rootKey
} from '../api/lineage';
import { ErrorCard } from '../components/ErrorCard';
import { LineageView } from '../components/LineageView';
import { useRequest } from '../components/useRequest';
import { mlopsIcon } from '../icons';

function LineageBody(props: {
  client: LineageClient;
  root: LineageRoot;
  trans: TranslationBundle;
  onOpen: (node: LineageNode) => void;
}): JSX.Element {
  const { client, root, trans, onOpen } = props;
  // One widget per root: `root` is the same object for the widget's life.
  const request = useRequest(() => client.lineage(root), [client, root]);
  if (request.error) {
    return (
      <ErrorCard error={request.error} trans={trans} onRetry={request.retry} />
    );
  }
  if (!request.value) {
    return <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>;
  }
  return <LineageView graph={request.value} trans={trans} onOpen={onOpen} />;
}

/** The id of the lineage tab of `root` (one tab per root). */
export function lineageWidgetId(root: LineageRoot): string {
  return `jp-mlops-lineage-${rootKey(root).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The lineage graph of a run, model version or output notebook in a main-area tab. */
export function createLineageWidget(
  client: LineageClient,
  root: LineageRoot,
  trans: TranslationBundle,
  onOpen: (node: LineageNode) => void
): MainAreaWidget<ReactWidget> {
  const content = ReactWidget.create(
    <LineageBody client={client} root={root} trans={trans} onOpen={onOpen} />
  );
  content.addClass('jp-mlops-LineageWidget');
  const widget = new MainAreaWidget({ content });
  widget.id = lineageWidgetId(root);
  widget.title.label =
    'runId' in root
      ? trans.__('Lineage: run %1', root.runId.slice(0, 8))
      : 'model' in root
        ? trans.__('Lineage: %1 v%2', root.model, root.version)
        : trans.__('Lineage: %1', root.output.split('/').pop() ?? root.output);
  widget.title.icon = mlopsIcon;
  widget.title.closable = true;
  return widget;
}
