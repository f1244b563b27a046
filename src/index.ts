import {
  ILabShell,
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IToolbarWidgetRegistry,
  MainAreaWidget,
  WidgetTracker,
  createToolbarFactory,
  setToolbar
} from '@jupyterlab/apputils';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { MlopsClient } from './api/client';
import { showExportDialog, showJobDialog } from './export/dialog';
import type { IJobActions } from './export/JobResult';
import { exportIcon, mlopsIcon } from './icons';
import { MlopsModel } from './model';
import { MlopsPanel, PANEL_ID } from './panel';
import type { RunDetails } from './api/types';
import { openRunLinksHere } from './runs/links';
import { RunsModel } from './runs/model';
import {
  RunsWidget,
  createCompareWidget,
  createRunDetailsWidget
} from './runs/widgets';
import { findTrackedCell } from './runs/cells';
import { followRenames } from './runs/renames';
import { lineagePlugin } from './lineage/plugin';
import { modelsPlugin } from './models/plugin';
import { DeploymentsClient } from './api/deployments';
import { MonitoringClient } from './api/monitoring';
import { showDeployDialog } from './components/DeployDialog';
import type { MonitoredKind } from './api/monitoring';
import {
  DeploymentsWidget,
  MonitoringContent,
  createMonitoringWidget,
  monitoringWidgetId
} from './deployments/widgets';

/** Command identifiers, all prefixed `mlops:`. */
export namespace CommandIDs {
  export const openPanel = 'mlops:open-panel';
  export const refresh = 'mlops:refresh';
  export const openRun = 'mlops:open-run';
  export const openRuns = 'mlops:open-runs';
  export const compareRuns = 'mlops:compare-runs';
  export const openRunFromUrl = 'mlops:open-run-from-url';
  export const exportNotebook = 'mlops:export-notebook';
  export const openDeployments = 'mlops:open-deployments';
  export const openMonitoring = 'mlops:open-monitoring';
}

/** `?mlops-run=<id>` in a JupyterLab URL (the run cards link to it) opens that run. */
const RUN_URL = /[?&]mlops-run=([A-Za-z0-9_-]+)/;

const PLUGIN_ID = 'jupyter-mlops:plugin';
/** The sidebar's toolbar, as `jupyter.lab.toolbars` in the settings names it. */
const PANEL_TOOLBAR = 'MLOpsPanel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The MLOps sidebar: tracking store status, experiments, and the mlops: commands.',
  autoStart: true,
  requires: [ILabShell],
  optional: [
    ITranslator,
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    IDocumentManager,
    IRouter,
    ILauncher,
    IStateDB,
    IToolbarWidgetRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    translator: ITranslator | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    docManager: IDocumentManager | null,
    router: IRouter | null,
    launcher: ILauncher | null,
    state: IStateDB | null,
    toolbarRegistry: IToolbarWidgetRegistry | null
  ) => {
    const translator_ = translator ?? nullTranslator;
    const trans = translator_.load('jupyter_mlops');
    const client = new MlopsClient(app.serviceManager.serverSettings);
    const model = new MlopsModel(client);
    const runs = new RunsModel(client);
    const jobActions: IJobActions = {
      openPath: path => void app.commands.execute('docmanager:open', { path }),
      openFolder: path =>
        void app.commands.execute('filebrowser:go-to-path', { path }),
      changed: () => void panel.jobs.refresh()
    };
    const panel = new MlopsPanel(model, runs, translator_, {
      openRun: runId =>
        void app.commands.execute(CommandIDs.openRun, { runId }),
      openRuns: experimentId =>
        void app.commands.execute(
          CommandIDs.openRuns,
          experimentId ? { experimentId } : {}
        ),
      openJob: (job, pane) =>
        void showJobDialog({ client, trans, actions: jobActions, job, pane }),
      openPath: jobActions.openPath,
      openFolder: jobActions.openFolder,
      openMonitoring: (kind, name) =>
        void app.commands.execute(CommandIDs.openMonitoring, { kind, name }),
      openDeployments: () =>
        void app.commands.execute(CommandIDs.openDeployments),
      openDeploy: job =>
        void showDeployDialog({
          client: new DeploymentsClient(app.serviceManager.serverSettings),
          tasks: client,
          job,
          trans,
          onDeployed: () =>
            void app.commands.execute(CommandIDs.openDeployments)
        })
    });
    const tabs = new WidgetTracker({ namespace: 'jupyter-mlops-runs' });

    /** Open the notebook that produced a run, with the cell selected and in view. */
    const openNotebook = async (details: RunDetails) => {
      const path = details.run.notebook_path;
      if (!path || !docManager) {
        return;
      }
      const widget = docManager.openOrReveal(path);
      if (!(widget instanceof NotebookPanel)) {
        return;
      }
      await widget.context.ready;
      const notebook = widget.content;
      const index = findTrackedCell(
        notebook.widgets.map(cell => cell.model.sharedModel.getSource()),
        details.cell_source ?? ''
      );
      if (index >= 0) {
        notebook.activeCellIndex = index;
        await notebook.scrollToItem(index);
      }
    };

    // The runs shown follow the notebook in focus: its experiment is named after it.
    notebooks?.currentChanged.connect((_, current) => {
      if (!current) {
        return;
      }
      const stem = PathExt.basename(current.context.path, '.ipynb');
      const experiment = model.experiments.find(e => e.name === stem);
      if (experiment) {
        void runs.setExperiment(experiment.experiment_id);
      }
    });
    // A kernel learns its notebook's path once; tell it when the notebook is renamed.
    notebooks?.widgetAdded.connect((_, notebook) =>
      followRenames(notebook.sessionContext)
    );
    // The sidebar's toolbar: its buttons are declared in schema/plugin.json, so users
    // can move, hide or add to them in the settings like any JupyterLab toolbar.
    if (toolbarRegistry && settingRegistry) {
      setToolbar(
        panel,
        createToolbarFactory(
          toolbarRegistry,
          settingRegistry,
          PANEL_TOOLBAR,
          PLUGIN_ID,
          translator_
        )
      );
    }
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
      caption: trans.__('Reload the tracking status, experiments and runs'),
      execute: () =>
        Promise.all([model.refresh(), runs.refresh(), panel.jobs.refresh()])
    });
    app.commands.addCommand(CommandIDs.exportNotebook, {
      label: trans.__('Export to Pipeline…'),
      caption: trans.__(
        'Turn this notebook into a job: parameters, image, orchestrator manifests'
      ),
      icon: args => (args.isPalette ? undefined : exportIcon),
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async () => {
        const current = notebooks?.currentWidget;
        if (!current) {
          return;
        }
        await current.context.ready;
        const context = current.context;
        await showExportDialog({
          client,
          trans,
          actions: jobActions,
          notebook: context.localPath,
          // The options typed last time for this notebook come back.
          state,
          // The server exports the file on disk: what the person sees must be saved.
          prepare: async () => {
            if (context.model.dirty && !context.model.readOnly) {
              await context.save();
            }
          }
        });
      }
    });
    if (notebooks) {
      const notify = () =>
        app.commands.notifyCommandChanged(CommandIDs.exportNotebook);
      notebooks.currentChanged.connect(notify);
    }
    app.commands.addCommand(CommandIDs.openRun, {
      label: trans.__('Open Run Details'),
      caption: trans.__(
        'Show a tracked run: metrics, parameters, figures, lineage'
      ),
      execute: args => {
        const runId = String(args.runId ?? '');
        if (!runId) {
          return;
        }
        const open = tabs.find(w => w.id === `jp-mlops-run-${runId}`);
        if (open) {
          labShell.activateById(open.id);
          return;
        }
        const widget = createRunDetailsWidget(
          client,
          runs,
          runId,
          trans,
          details => void openNotebook(details),
          {
            // A job's run: its output notebook, not the notebook at a cell.
            openOutput: path => void docManager?.openOrReveal(path),
            openRun: id =>
              void app.commands.execute(CommandIDs.openRun, { runId: id })
          }
        );
        void tabs.add(widget);
        labShell.add(widget, 'main');
        labShell.activateById(widget.id);
      }
    });
    // Run cards link to `<base>/lab?mlops-run=ID`: a click opens the run here, not in a
    // second JupyterLab in a new browser tab.
    openRunLinksHere(
      document.body,
      URLExt.join(PageConfig.getBaseUrl(), 'lab'),
      runId => void app.commands.execute(CommandIDs.openRun, { runId })
    );
    let runsWidget: RunsWidget | null = null;
    app.commands.addCommand(CommandIDs.openRuns, {
      label: trans.__('MLOps Runs'),
      caption: trans.__(
        'All runs of an experiment, full width: columns, sort, filter, compare'
      ),
      icon: args => (args.isPalette ? undefined : mlopsIcon),
      execute: async args => {
        const experimentId =
          (args.experimentId as string | undefined) ??
          runs.experimentId ??
          (model.experiments.find(e => e.run_count > 0) ?? model.experiments[0])
            ?.experiment_id ??
          null;
        if (!runsWidget || runsWidget.isDisposed) {
          runsWidget = new RunsWidget(client, model, trans, {
            onOpen: runId =>
              void app.commands.execute(CommandIDs.openRun, { runId }),
            onCompare: runIds =>
              void app.commands.execute(CommandIDs.compareRuns, { runIds })
          });
          labShell.add(runsWidget, 'main');
        }
        labShell.activateById(runsWidget.id);
        if (model.experiments.length === 0) {
          await model.refresh();
        }
        await runsWidget.runs.setExperiment(experimentId);
      }
    });
    let deploymentsWidget: DeploymentsWidget | null = null;
    // The panel's refresh interval (seconds), from the settings once they are read.
    let refreshInterval = 30;
    app.commands.addCommand(CommandIDs.openDeployments, {
      label: trans.__('MLOps Deployments'),
      caption: trans.__(
        'Jobs deployed onto their engines: schedules, runs, logs, run now'
      ),
      execute: () => {
        if (!deploymentsWidget || deploymentsWidget.isDisposed) {
          deploymentsWidget = new DeploymentsWidget(
            new DeploymentsClient(app.serviceManager.serverSettings),
            trans,
            {
              openPath: jobActions.openPath,
              openRun: runId =>
                void app.commands.execute(CommandIDs.openRun, { runId }),
              openMonitoring: name =>
                void app.commands.execute(CommandIDs.openMonitoring, {
                  kind: 'deployment',
                  name
                }),
              jobs: () => client.jobs().then(list => list.jobs)
            }
          );
          deploymentsWidget.model.configure(refreshInterval);
          labShell.add(deploymentsWidget, 'main');
        }
        labShell.activateById(deploymentsWidget.id);
      }
    });
    const monitoring = new MonitoringClient(app.serviceManager.serverSettings);
    app.commands.addCommand(CommandIDs.openMonitoring, {
      label: args =>
        args.name
          ? trans.__('Monitor %1', String(args.name))
          : trans.__('Monitor a Job'),
      caption: trans.__(
        'Runs over time of a job or a deployment: outcome, duration, metrics, drift share'
      ),
      execute: args => {
        const kind: MonitoredKind =
          args.kind === 'deployment' ? 'deployment' : 'job';
        const name = String(args.name ?? '');
        if (!name) {
          return;
        }
        const id = monitoringWidgetId(kind, name);
        const open = tabs.find(w => w.id === id);
        if (open) {
          labShell.activateById(id);
          return;
        }
        const widget = createMonitoringWidget(
          monitoring,
          kind,
          name,
          trans,
          runId => void app.commands.execute(CommandIDs.openRun, { runId }),
          refreshInterval
        );
        void tabs.add(widget);
        labShell.add(widget, 'main');
        labShell.activateById(widget.id);
      }
    });
    const selectedRuns = () =>
      runsWidget && !runsWidget.isDisposed
        ? Array.from(runsWidget.runs.selected)
        : [];
    app.commands.addCommand(CommandIDs.compareRuns, {
      label: trans.__('Compare Selected Runs'),
      caption: trans.__('Parameters side by side, metric charts overlaid'),
      isEnabled: args =>
        ((args.runIds as string[] | undefined) ?? selectedRuns()).length > 1,
      execute: args => {
        const runIds = (args.runIds as string[] | undefined) ?? selectedRuns();
        if (runIds.length < 2) {
          return;
        }
        const widget = createCompareWidget(client, runIds, trans);
        void tabs.add(widget);
        labShell.add(widget, 'main');
        labShell.activateById(widget.id);
      }
    });
    if (router) {
      app.commands.addCommand(CommandIDs.openRunFromUrl, {
        execute: args => {
          const search = String((args as IRouter.ILocation).search ?? '');
          const match = RUN_URL.exec(search);
          if (match) {
            return app.restored.then(() =>
              app.commands.execute(CommandIDs.openRun, { runId: match[1] })
            );
          }
        }
      });
      router.register({ command: CommandIDs.openRunFromUrl, pattern: RUN_URL });
    }

    if (palette) {
      const category = trans.__('MLOps');
      palette.addItem({ command: CommandIDs.openPanel, category });
      palette.addItem({ command: CommandIDs.openRuns, category });
      palette.addItem({ command: CommandIDs.refresh, category });
      palette.addItem({ command: CommandIDs.compareRuns, category });
      palette.addItem({ command: CommandIDs.exportNotebook, category });
      palette.addItem({ command: CommandIDs.openDeployments, category });
    }

    launcher?.add({
      command: CommandIDs.openRuns,
      category: trans.__('Other'),
      rank: 10
    });

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings) => {
        refreshInterval = settings.get('refreshInterval').composite as number;
        panel.jobs.configure(refreshInterval);
        if (deploymentsWidget && !deploymentsWidget.isDisposed) {
          deploymentsWidget.model.configure(refreshInterval);
        }
        tabs.forEach(tab => {
          if (tab instanceof MainAreaWidget) {
            const content = tab.content;
            if (content instanceof MonitoringContent) {
              content.refreshInterval = refreshInterval;
            }
          }
        });
        void model.configure({
          refreshInterval,
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

export default [plugin, lineagePlugin, modelsPlugin];
