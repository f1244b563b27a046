import {
  Dialog,
  InputDialog,
  MainAreaWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import type { RunDetails } from '../api/types';
import { CompareView } from '../components/CompareView';
import { IRunActions, RunDetailsView } from '../components/RunDetailsView';
import { RunsView } from '../components/RunsView';
import { mlopsIcon } from '../icons';
import type { MlopsModel } from '../model';
import { RunsModel } from './model';

/** Opening a notebook at the cell that produced a run (the application provides it). */
export type OpenNotebook = (details: RunDetails) => void;

class RunDetailsBody extends ReactWidget {
  constructor(
    private _client: MlopsClient,
    readonly runId: string,
    private _trans: TranslationBundle,
    private _actions: IRunActions
  ) {
    super();
    this.addClass('jp-mlops-RunDetailsWidget');
  }

  reload(): void {
    this._version++;
    this.update();
  }

  render(): JSX.Element {
    return (
      <RunDetailsView
        client={this._client}
        runId={this.runId}
        trans={this._trans}
        actions={this._actions}
        version={this._version}
      />
    );
  }

  private _version = 0;
}

/** The run details in a main-area tab, with rename, tag and delete wired to the store. */
export function createRunDetailsWidget(
  client: MlopsClient,
  runs: RunsModel,
  runId: string,
  trans: TranslationBundle,
  openNotebook: OpenNotebook,
  links: Pick<IRunActions, 'openOutput' | 'openRun'> = {}
): MainAreaWidget<ReactWidget> {
  const fail = (title: string) => (error: unknown) =>
    showErrorMessage(title, (error as Error).message);
  const actions: IRunActions = {
    openNotebook,
    ...links,
    rename: async details => {
      const answer = await InputDialog.getText({
        title: trans.__('Rename the run'),
        text: details.run.run_name
      });
      if (
        answer.button.accept &&
        answer.value &&
        answer.value !== details.run.run_name
      ) {
        await client
          .updateRun(details.run.run_id, { name: answer.value })
          .then(run => {
            runs.replaceRun(run);
            widget.title.label = run.run_name;
            body.reload();
          })
          .catch(fail(trans.__('Cannot rename the run')));
      }
    },
    addTag: async details => {
      const answer = await InputDialog.getText({
        title: trans.__('Add a tag (key=value)'),
        placeholder: 'reviewed=yes'
      });
      if (!answer.button.accept || !answer.value) {
        return;
      }
      const [key, ...rest] = answer.value.split('=');
      if (!key.trim() || rest.length === 0) {
        await showErrorMessage(
          trans.__('Cannot add the tag'),
          trans.__('Write the tag as key=value.')
        );
        return;
      }
      await client
        .updateRun(details.run.run_id, {
          set_tags: { [key.trim()]: rest.join('=').trim() }
        })
        .then(run => {
          runs.replaceRun(run);
          body.reload();
        })
        .catch(fail(trans.__('Cannot add the tag')));
    },
    remove: async details => {
      const answer = await showDialog({
        title: trans.__('Delete the run?'),
        body: trans.__(
          'The run "%1" is moved to MLflow\'s deleted runs (it can be restored there).',
          details.run.run_name
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (answer.button.accept) {
        await client
          .deleteRun(details.run.run_id)
          .then(() => {
            runs.removeRun(details.run.run_id);
            widget.dispose();
          })
          .catch(fail(trans.__('Cannot delete the run')));
      }
    }
  };
  const body = new RunDetailsBody(client, runId, trans, actions);
  const widget = new MainAreaWidget({ content: body });
  widget.id = `jp-mlops-run-${runId}`;
  widget.title.label = trans.__('Run %1', runId.slice(0, 8));
  widget.title.icon = mlopsIcon;
  widget.title.closable = true;
  void client.run(runId).then(
    details => (widget.title.label = details.run.run_name),
    () => undefined
  );
  return widget;
}

/** Two or more runs compared in a main-area tab. */
export function createCompareWidget(
  client: MlopsClient,
  runIds: string[],
  trans: TranslationBundle
): MainAreaWidget<ReactWidget> {
  const content = ReactWidget.create(
    <CompareView client={client} runIds={runIds} trans={trans} />
  );
  content.addClass('jp-mlops-CompareWidget');
  const widget = new MainAreaWidget({ content });
  widget.id = `jp-mlops-compare-${runIds.join('-').slice(0, 80)}`;
  widget.title.label = trans.__('Compare %1 runs', runIds.length);
  widget.title.icon = mlopsIcon;
  widget.title.closable = true;
  return widget;
}

/** Identifier of the full-width Runs view (one per application, like a file browser). */
export const RUNS_WIDGET_ID = 'jp-mlops-runs';

/**
 * All runs of an experiment in a main-area tab: the table with every column, sort,
 * filter, selection and comparison, given the width the sidebar cannot give it. It has
 * a runs model of its own, so sorting or filtering here leaves the sidebar's list as it is.
 */
export class RunsWidget extends MainAreaWidget<ReactWidget> {
  constructor(
    client: MlopsClient,
    experiments: MlopsModel,
    trans: TranslationBundle,
    handlers: {
      onOpen: (runId: string) => void;
      onCompare: (runIds: string[]) => void;
    }
  ) {
    const runs = new RunsModel(client);
    const content = ReactWidget.create(
      <UseSignal signal={experiments.changed} initialSender={experiments}>
        {() => (
          <UseSignal signal={runs.changed} initialSender={runs}>
            {() => (
              <RunsView
                model={runs}
                experiments={experiments.experiments}
                trans={trans}
                onOpen={handlers.onOpen}
                onCompare={handlers.onCompare}
              />
            )}
          </UseSignal>
        )}
      </UseSignal>
    );
    content.addClass('jp-mlops-RunsWidget');
    super({ content });
    this.runs = runs;
    this.id = RUNS_WIDGET_ID;
    this.title.icon = mlopsIcon;
    this.title.closable = true;
    const label = () => {
      const experiment = experiments.experiments.find(
        e => e.experiment_id === runs.experimentId
      );
      this.title.label = experiment
        ? trans.__('Runs: %1', experiment.name)
        : trans.__('Runs');
    };
    label();
    runs.changed.connect(label);
    experiments.changed.connect(label);
    this.disposed.connect(() => {
      experiments.changed.disconnect(label);
      runs.dispose();
    });
  }

  /** The runs shown here (their experiment, filter, order and selection). */
  readonly runs: RunsModel;
}
