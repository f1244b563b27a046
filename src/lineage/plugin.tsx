/**
 * The lineage graph and the audit trail's timeline: their commands (`mlops:show-lineage`,
 * `mlops:open-audit`) and a "Lineage" button on every run details tab; the MLOps sidebar's
 * toolbar has an "Audit trail" button (declared in `schema/plugin.json`).
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  CommandToolbarButton,
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';
import type { Widget } from '@lumino/widgets';

import { LineageClient, LineageNode, LineageRoot } from '../api/lineage';
import { AuditModel } from '../audit/model';
import { AuditView } from '../components/AuditView';
import { mlopsIcon } from '../icons';
import { createLineageWidget, lineageWidgetId } from './widget';

export namespace LineageCommandIDs {
  export const showLineage = 'mlops:show-lineage';
  export const openAudit = 'mlops:open-audit';
}

const RUN_TAB = /^jp-mlops-run-([A-Za-z0-9_-]+)$/;
const AUDIT_ID = 'jp-mlops-audit';

/** The root the command's arguments name, else the run of the run tab in focus. */
export function lineageRoot(
  args: Record<string, unknown>,
  currentId: string | undefined
): LineageRoot | null {
  if (typeof args.runId === 'string' && args.runId) {
    return { runId: args.runId };
  }
  if (typeof args.model === 'string' && args.model && args.version) {
    return { model: args.model, version: String(args.version) };
  }
  if (typeof args.output === 'string' && args.output) {
    return { output: args.output };
  }
  const match = RUN_TAB.exec(currentId ?? '');
  return match ? { runId: match[1] } : null;
}

export const lineagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:lineage',
  description:
    'Lineage graphs of runs, model versions and outputs; the audit timeline.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_mlops');
    const client = new LineageClient(app.serviceManager.serverSettings);
    const tabs = new WidgetTracker<Widget>({
      namespace: 'jupyter-mlops-lineage'
    });
    const run = (command: string, args: Record<string, string>) =>
      void app.commands.execute(command, args);

    const open = (node: LineageNode) => {
      const link = node.link;
      if (!link) {
        return;
      }
      switch (link.view) {
        case 'run':
          return run('mlops:open-run', { runId: link.target });
        case 'notebook':
          return run('docmanager:open', { path: link.target });
        case 'job':
        case 'data':
          return run('filebrowser:go-to-path', { path: link.target });
        case 'deployment':
          if (app.commands.hasCommand('mlops:open-deployments')) {
            return run('mlops:open-deployments', { name: link.target });
          }
          return;
        case 'model_version': {
          const [model, version] = [
            link.target.slice(0, link.target.lastIndexOf('/')),
            link.target.slice(link.target.lastIndexOf('/') + 1)
          ];
          if (app.commands.hasCommand('mlops:open-model')) {
            return run('mlops:open-model', { name: model, version });
          }
          return run(LineageCommandIDs.showLineage, { model, version });
        }
      }
    };

    app.commands.addCommand(LineageCommandIDs.showLineage, {
      label: trans.__('Show Lineage'),
      caption: trans.__(
        'Data versions, code, runs, model versions, jobs, images, deployments and outputs, as one graph'
      ),
      icon: args => (args.isPalette ? undefined : mlopsIcon),
      isEnabled: args => lineageRoot(args, labShell.currentWidget?.id) !== null,
      execute: args => {
        const root = lineageRoot(args, labShell.currentWidget?.id);
        if (!root) {
          return;
        }
        const id = lineageWidgetId(root);
        const existing = tabs.find(w => w.id === id);
        if (existing) {
          labShell.activateById(id);
          return;
        }
        const widget = createLineageWidget(client, root, trans, open);
        void tabs.add(widget);
        labShell.add(widget, 'main');
        labShell.activateById(widget.id);
      }
    });

    let audit: MainAreaWidget<ReactWidget> | null = null;
    app.commands.addCommand(LineageCommandIDs.openAudit, {
      label: trans.__('Audit Trail'),
      caption: trans.__(
        'Every export, build, deployment, job run, snapshot and model change, newest first'
      ),
      icon: args => (args.isPalette ? undefined : mlopsIcon),
      execute: () => {
        if (!audit || audit.isDisposed) {
          const model = new AuditModel(client);
          const content = ReactWidget.create(
            <UseSignal signal={model.changed} initialSender={model}>
              {() => <AuditView model={model} trans={trans} />}
            </UseSignal>
          );
          content.addClass('jp-mlops-AuditWidget');
          audit = new MainAreaWidget({ content });
          audit.id = AUDIT_ID;
          audit.title.label = trans.__('Audit Trail');
          audit.title.icon = mlopsIcon;
          audit.title.closable = true;
          labShell.add(audit, 'main');
          void model.refresh();
        }
        labShell.activateById(audit.id);
      }
    });

    // A "Lineage" button on each run details tab, added when the tab is first shown.
    const addRunButton = () => {
      const current = labShell.currentWidget;
      const match = RUN_TAB.exec(current?.id ?? '');
      if (!match || !(current instanceof MainAreaWidget)) {
        return;
      }
      const names = Array.from(current.toolbar.names());
      if (!names.includes('mlops-lineage')) {
        current.toolbar.addItem(
          'mlops-lineage',
          new CommandToolbarButton({
            commands: app.commands,
            id: LineageCommandIDs.showLineage,
            args: { runId: match[1] },
            label: trans.__('Lineage')
          })
        );
      }
    };
    labShell.currentChanged.connect(addRunButton);

    if (palette) {
      const category = trans.__('MLOps');
      palette.addItem({ command: LineageCommandIDs.showLineage, category });
      palette.addItem({ command: LineageCommandIDs.openAudit, category });
    }
  }
};
