import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { MlopsClient } from './api/client';
import { mlopsIcon } from './icons';
import { MlopsModel } from './model';
import { MlopsPanel, PANEL_ID } from './panel';

/** Command identifiers, all prefixed `mlops:`. */
export namespace CommandIDs {
  export const openPanel = 'mlops:open-panel';
  export const refresh = 'mlops:refresh';
}

const PLUGIN_ID = 'jupyter-mlops:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The MLOps sidebar: tracking store status, experiments, and the mlops: commands.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ITranslator, ISettingRegistry, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    translator: ITranslator | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const translator_ = translator ?? nullTranslator;
    const trans = translator_.load('jupyter_mlops');
    const model = new MlopsModel(
      new MlopsClient(app.serviceManager.serverSettings)
    );
    const panel = new MlopsPanel(model, translator_);
    labShell.add(panel, 'left', { rank: 600, type: 'MLOps' });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('MLOps Panel'),
      caption: trans.__(
        'Show the MLOps panel: tracking, experiments, data and jobs'
      ),
      icon: args => (args.isPalette ? undefined : mlopsIcon),
      execute: () => {
        labShell.activateById(PANEL_ID);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh MLOps Status'),
      caption: trans.__('Reload the tracking status and experiments'),
      execute: () => model.refresh()
    });
    if (palette) {
      const category = trans.__('MLOps');
      palette.addItem({ command: CommandIDs.openPanel, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings) => {
        void model.configure({
          refreshInterval: settings.get('refreshInterval').composite as number,
          maxExperiments: settings.get('maxExperiments').composite as number,
          includeDeleted: settings.get('showDeletedExperiments')
            .composite as boolean
        });
      };
      void Promise.all([settingRegistry.load(PLUGIN_ID), app.restored])
        .then(([settings]) => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error('jupyter-mlops: cannot load settings.', reason);
        });
    }
  }
};

export default plugin;
