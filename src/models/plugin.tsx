/**
 * The Models view: registered models, their versions and aliases, promotion through the
 * project's gate, model cards. Commands `mlops:open-models` and `mlops:open-model`
 * (`{name, version?}`, which the lineage graph's model nodes open); the MLOps sidebar's
 * toolbar has a "Models" button for the first (declared in `schema/plugin.json`).
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ModelsClient } from '../api/models';
import { MarkdownRenderer, ModelsView } from '../components/ModelsView';
import { mlopsIcon } from '../icons';

export namespace ModelsCommandIDs {
  export const openModels = 'mlops:open-models';
  export const openModel = 'mlops:open-model';
}

const MODELS_ID = 'jp-mlops-models';

/** A card's YAML metadata and its Markdown body, apart. */
export function splitCard(text: string): { metadata: string; body: string } {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(text);
  return match
    ? { metadata: match[1], body: text.slice(match[0].length) }
    : { metadata: '', body: text };
}

export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:models',
  description:
    'Registered models: versions, aliases, promotion through a gate, model cards.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ITranslator, ICommandPalette, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_mlops');
    const client = new ModelsClient(app.serviceManager.serverSettings);

    const render: MarkdownRenderer = (host, markdown) => {
      const { metadata, body } = splitCard(markdown);
      host.replaceChildren();
      if (metadata) {
        const details = document.createElement('details');
        const summary = document.createElement('summary');
        summary.textContent = trans.__('Metadata');
        const pre = document.createElement('pre');
        pre.textContent = metadata;
        details.append(summary, pre);
        host.appendChild(details);
      }
      if (!rendermime) {
        const pre = document.createElement('pre');
        pre.textContent = body;
        host.appendChild(pre);
        return;
      }
      const renderer = rendermime.createRenderer('text/markdown');
      host.appendChild(renderer.node);
      void renderer.renderModel(
        rendermime.createModel({ data: { 'text/markdown': body } })
      );
    };
    const onLineage = app.commands.hasCommand('mlops:show-lineage')
      ? (name: string, version: string) =>
          void app.commands.execute('mlops:show-lineage', {
            model: name,
            version
          })
      : undefined;

    let widget: MainAreaWidget<ReactWidget> | null = null;
    const open = (initial?: { name: string; version?: string }) => {
      if (widget && !widget.isDisposed) {
        widget.dispose();
      }
      const content = ReactWidget.create(
        <ModelsView
          client={client}
          trans={trans}
          render={render}
          initial={initial}
          onLineage={onLineage}
        />
      );
      content.addClass('jp-mlops-ModelsWidget');
      widget = new MainAreaWidget({ content });
      widget.id = MODELS_ID;
      widget.title.label = trans.__('Models');
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      labShell.add(widget, 'main');
      labShell.activateById(widget.id);
    };

    app.commands.addCommand(ModelsCommandIDs.openModels, {
      label: trans.__('Models'),
      caption: trans.__(
        'Registered models: versions, aliases, promotion through the gate, model cards'
      ),
      icon: args => (args.isPalette ? undefined : mlopsIcon),
      execute: () => {
        if (widget && !widget.isDisposed) {
          labShell.activateById(widget.id);
          return;
        }
        open();
      }
    });
    app.commands.addCommand(ModelsCommandIDs.openModel, {
      label: trans.__('Open Model Version'),
      execute: args => {
        const name = typeof args.name === 'string' ? args.name : '';
        const version = args.version ? String(args.version) : undefined;
        open(name ? { name, version } : undefined);
      }
    });

    if (palette) {
      palette.addItem({
        command: ModelsCommandIDs.openModels,
        category: trans.__('MLOps')
      });
    }
  }
};
