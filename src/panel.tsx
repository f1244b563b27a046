import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, SidePanel, UseSignal } from '@jupyterlab/ui-components';
import { AccordionPanel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { ExperimentsView } from './components/ExperimentsView';
import { JobsView } from './components/JobsView';
import type { JobInfo } from './api/types';
import type { JobPane } from './export/JobResult';
import { JobsModel } from './export/model';
import { RunList } from './components/RunList';
import { RunsModel } from './runs/model';
import { StatusView } from './components/StatusView';
import { mlopsIcon } from './icons';
import { DataClient } from './api/data';
import { DataModel } from './data/model';
import { DataView, confirmLosingChanges } from './components/DataView';
import { MlopsModel } from './model';

/**
 * Default shares of the sidebar's height: status, experiments, runs, data, jobs. Runs get
 * the most (at least ten rows at 1280x800).
 */
const SECTION_WEIGHTS = [0.7, 1.2, 4.7, 1, 1];

/** Identifier of the panel in the left sidebar (and in the layout restorer). */
export const PANEL_ID = 'jp-mlops-panel';

/** What the panel asks of the application when a person acts on runs. */
export interface IPanelHandlers {
  openRun: (runId: string) => void;
  /** Open the full-width Runs view, on an experiment or on the sidebar's. */
  openRuns: (experimentId: string | null) => void;
  /** Open a job's Build or Run pane; open a file; show a folder in the file browser. */
  openJob: (job: JobInfo, pane: JobPane) => void;
  openPath: (path: string) => void;
  openFolder: (path: string) => void;
  /** Open the monitoring charts of a job or a deployment. */
  openMonitoring?: (kind: 'job' | 'deployment', name: string) => void;
  /** Open the deployments tab. */
  openDeployments?: () => void;
  /** Deploy a job (the Deploy dialog). */
  openDeploy?: (job: JobInfo) => void;
}

/**
 * The MLOps sidebar: a side panel whose sections (status, experiments, runs; data and
 * jobs later) each render from the shared models.
 */
export class MlopsPanel extends SidePanel {
  constructor(
    readonly model: MlopsModel,
    readonly runs: RunsModel,
    translator: ITranslator,
    handlers: IPanelHandlers
  ) {
    super({ translator });
    const trans = translator.load('jupyter_mlops');
    this.id = PANEL_ID;
    this.addClass('jp-mlops-Panel');
    this.title.icon = mlopsIcon;
    this.title.caption = trans.__('MLOps');
    this.header.addWidget(
      ReactWidget.create(
        <h2 className="jp-mlops-Title">{trans.__('MLOps')}</h2>
      )
    );
    this.addWidget(section(model, trans, trans.__('Status'), 'status'));
    this.addWidget(
      section(
        model,
        trans,
        trans.__('Experiments'),
        'experiments',
        experimentId => handlers.openRuns(experimentId)
      )
    );
    const runsSection = ReactWidget.create(
      <UseSignal signal={model.changed} initialSender={model}>
        {() => (
          <UseSignal signal={runs.changed} initialSender={runs}>
            {() => (
              <RunList
                model={runs}
                experiments={model.experiments}
                trans={trans}
                onOpen={handlers.openRun}
                onShowAll={handlers.openRuns}
              />
            )}
          </UseSignal>
        )}
      </UseSignal>
    );
    runsSection.title.label = trans.__('Runs');
    runsSection.addClass('jp-mlops-Section-runs');
    this.addWidget(runsSection);
    this.data = new DataModel(
      new DataClient(model.client.serverSettings),
      confirmLosingChanges(trans)
    );
    const dataSection = ReactWidget.create(
      <UseSignal signal={this.data.changed} initialSender={this.data}>
        {() => (
          <DataView
            model={this.data}
            trans={trans}
            onOpenRun={handlers.openRun}
          />
        )}
      </UseSignal>
    );
    dataSection.title.label = trans.__('Data');
    dataSection.addClass('jp-mlops-Section-data');
    this.addWidget(dataSection);
    this._dataSection = dataSection;
    this.jobs = new JobsModel(model.client);
    const jobsSection = ReactWidget.create(
      <UseSignal signal={this.jobs.changed} initialSender={this.jobs}>
        {() => (
          <JobsView
            model={this.jobs}
            trans={trans}
            onAction={handlers.openJob}
            openPath={handlers.openPath}
            openFolder={handlers.openFolder}
            onMonitor={
              handlers.openMonitoring
                ? job => handlers.openMonitoring!('job', job.name)
                : undefined
            }
            onDeployments={handlers.openDeployments}
            onDeploy={handlers.openDeploy}
          />
        )}
      </UseSignal>
    );
    jobsSection.title.label = trans.__('Jobs');
    jobsSection.addClass('jp-mlops-Section-jobs');
    this.addWidget(jobsSection);
    model.changed.connect(this._pickExperiment, this);
    const accordion = this.content as AccordionPanel;
    // A section scrolls when its content outgrows its share: reachable by keyboard too.
    for (const widget of accordion.widgets) {
      widget.node.tabIndex = 0;
    }
    accordion.setRelativeSizes(SECTION_WEIGHTS);
    accordion.expansionToggled.connect(this._shareSpace, this);
    accordion.expansionToggled.connect(() => this._followData(this.isVisible));
  }

  /** The data paths are followed (polled) while the Data section can be seen. */
  private _followData(panelVisible: boolean): void {
    this.data.setVisible(panelVisible && !this._dataSection.isHidden);
  }

  private _dataSection: Widget;

  /**
   * A folded section's space goes to the open ones in proportion to their default
   * weights (Lumino would give it all to the last open section, Jobs).
   */
  private _shareSpace(accordion: AccordionPanel): void {
    const open = accordion.widgets.map(w => !w.isHidden);
    if (!open.some(Boolean)) {
      return;
    }
    accordion.setRelativeSizes(
      SECTION_WEIGHTS.map((weight, i) => (open[i] ? weight : 0))
    );
  }

  /** With no experiment chosen yet, show the most recently updated one that has runs. */
  private _pickExperiment(): void {
    if (
      this.runs.experimentId !== null ||
      this.model.experiments.length === 0
    ) {
      return;
    }
    const withRuns = this.model.experiments.find(e => e.run_count > 0);
    void this.runs.setExperiment(
      (withRuns ?? this.model.experiments[0]).experiment_id
    );
  }

  /** Exported job folders and the job runs this server started. */
  readonly jobs: JobsModel;

  /** Tracked data, its versions, and the snapshot or restore running from the panel. */
  readonly data: DataModel;

  protected onAfterShow(): void {
    void this.model.start();
    this.jobs.start();
    void this.data.refresh();
    this._followData(true);
  }

  protected onBeforeHide(): void {
    this._followData(false);
  }

  dispose(): void {
    this.model.dispose();
    this.runs.dispose();
    this.jobs.dispose();
    this.data.dispose();
    super.dispose();
  }
}

function section(
  model: MlopsModel,
  trans: TranslationBundle,
  title: string,
  kind: 'status' | 'experiments',
  openRuns: (experimentId: string) => void = () => undefined
): ReactWidget {
  const widget = ReactWidget.create(
    <UseSignal signal={model.changed} initialSender={model}>
      {() =>
        kind === 'status' ? (
          <StatusView
            status={model.status}
            error={model.statusError}
            loading={model.loading}
            versionMismatch={model.versionMismatch}
            trans={trans}
            onRetry={() => void model.refreshStatus()}
          />
        ) : (
          <ExperimentsView
            experiments={model.experiments}
            error={model.experimentsError}
            loading={model.loading}
            search={model.search}
            trans={trans}
            onSearch={search => void model.setSearch(search)}
            onRetry={() => void model.refreshExperiments()}
            onOpen={openRuns}
          />
        )
      }
    </UseSignal>
  );
  widget.title.label = title;
  widget.addClass(`jp-mlops-Section-${kind}`);
  return widget;
}
