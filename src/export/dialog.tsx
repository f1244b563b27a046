import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IStateDB } from '@jupyterlab/statedb';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsClient } from '../api/client';
import type { JobInfo } from '../api/types';
import { ExportFlow } from './ExportFlow';
import { IJobActions, JobPane, JobResult } from './JobResult';
import { IExportValues, restoredValues, storedValues } from './options';

/**
 * A dialog whose body holds forms: Enter submits the form it is typed in (not the
 * dialog), and a click beside the dialog does not close it and lose what was typed.
 * Escape, the close icon and the Close button still close it.
 */
export class FormDialog extends Dialog<void> {
  protected _evtKeydown(event: KeyboardEvent): void {
    const body = this.node.querySelector('.jp-Dialog-body');
    if (event.key === 'Enter' && body?.contains(event.target as Node)) {
      return;
    }
    super._evtKeydown(event);
  }

  protected _evtClick(event: MouseEvent): void {
    const content = this.node.querySelector('.jp-Dialog-content');
    if (content && !content.contains(event.target as Node)) {
      event.stopPropagation();
      event.preventDefault();
      return;
    }
    super._evtClick(event);
  }
}

/**
 * Show `render`'s content in a FormDialog. Opening a file or a folder from it closes the
 * dialog first (a modal would hide what was opened); the server keeps building or
 * running, and the Jobs list shows it.
 */
async function launch(
  title: string,
  render: (actions: IJobActions) => JSX.Element,
  trans: TranslationBundle,
  actions: IJobActions
): Promise<void> {
  let close = () => undefined as void;
  const inDialog: IJobActions = {
    openPath: path => {
      close();
      actions.openPath(path);
    },
    openFolder: path => {
      close();
      actions.openFolder(path);
    },
    changed: actions.changed
  };
  const widget = ReactWidget.create(render(inDialog));
  widget.addClass('jp-mlops-export-body');
  const dialog = new FormDialog({
    title,
    body: widget,
    buttons: [Dialog.cancelButton({ label: trans.__('Close') })],
    hasClose: true
  });
  dialog.addClass('jp-mlops-export-dialog');
  close = () => dialog.reject();
  try {
    await dialog.launch();
  } finally {
    actions.changed();
  }
}

export interface IExportDialogOptions {
  client: MlopsClient;
  trans: TranslationBundle;
  actions: IJobActions;
}

/** Where the export options typed for a notebook are kept in the state database. */
export function exportStateKey(notebook: string): string {
  return `jupyter-mlops:export:${notebook}`;
}

/** How long typing pauses before the options are written to the state database (ms). */
const SAVE_DELAY = 400;

/**
 * "Export to Pipeline…": the form, then the exported job with Build and Run. With a state
 * database, the form starts with the options last typed for this notebook and keeps what
 * is typed for the next time.
 */
export async function showExportDialog(
  options: IExportDialogOptions & {
    notebook: string;
    prepare: () => Promise<void>;
    state?: IStateDB | null;
  }
): Promise<void> {
  const { client, trans, actions, notebook, state } = options;
  const key = exportStateKey(notebook);
  let saved: unknown = undefined;
  if (state) {
    try {
      saved = await state.fetch(key);
    } catch {
      // Nothing kept, or the database is unavailable: start from the defaults.
    }
  }
  let pending: IExportValues | null = null;
  let timer = 0;
  const flush = () => {
    window.clearTimeout(timer);
    if (state && pending) {
      void state.save(key, storedValues(pending)).catch(() => undefined);
    }
    pending = null;
  };
  const remember = (values: IExportValues) => {
    pending = values;
    window.clearTimeout(timer);
    timer = window.setTimeout(flush, SAVE_DELAY);
  };
  try {
    await launch(
      trans.__('Export to Pipeline'),
      inDialog => (
        <ExportFlow
          client={client}
          notebook={notebook}
          trans={trans}
          actions={inDialog}
          prepare={options.prepare}
          initialValues={restoredValues(notebook, saved)}
          onValuesChange={remember}
        />
      ),
      trans,
      actions
    );
  } finally {
    flush();
  }
}

/** A job of the Jobs list, with its Build or Run pane open. */
export function showJobDialog(
  options: IExportDialogOptions & {
    job: JobInfo;
    pane: JobPane;
  }
): Promise<void> {
  const { client, trans, actions, job } = options;
  return launch(
    trans.__('Job %1', job.name),
    inDialog => (
      <JobResult
        client={client}
        job={job}
        trans={trans}
        actions={inDialog}
        initialPane={options.pane}
        autoBuild={options.pane === 'build'}
      />
    ),
    trans,
    actions
  );
}
