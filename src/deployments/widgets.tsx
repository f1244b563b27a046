/**
 * Main-area tabs: the deployments with their runs, and the monitoring charts of a job or
 * a deployment.
 */
import { MainAreaWidget, ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DeploymentsClient } from '../api/deployments';
import type { MonitoredKind, MonitoringClient } from '../api/monitoring';
import {
  DeploymentsView,
  IDeploymentActions
} from '../components/DeploymentsView';
import { MonitoringView } from '../components/MonitoringView';
import { mlopsIcon } from '../icons';
import { DeploymentsModel } from './model';

/** Identifier of the Deployments tab (one per application). */
export const DEPLOYMENTS_WIDGET_ID = 'jp-mlops-deployments';

/** The deployments tab: its model polls while the tab is open, and stops when closed. */
export class DeploymentsWidget extends MainAreaWidget<ReactWidget> {
  constructor(
    client: DeploymentsClient,
    trans: TranslationBundle,
    actions: IDeploymentActions
  ) {
    const model = new DeploymentsModel(client);
    const content = ReactWidget.create(
      <UseSignal signal={model.changed} initialSender={model}>
        {() => (
          <DeploymentsView model={model} trans={trans} actions={actions} />
        )}
      </UseSignal>
    );
    content.addClass('jp-mlops-DeploymentsWidget');
    super({ content });
    this.model = model;
    this.id = DEPLOYMENTS_WIDGET_ID;
    this.title.label = trans.__('Deployments');
    this.title.icon = mlopsIcon;
    this.title.closable = true;
    model.start();
    this.disposed.connect(() => model.dispose());
  }

  readonly model: DeploymentsModel;
}

/** The id of a job's or a deployment's monitoring tab. */
export function monitoringWidgetId(kind: MonitoredKind, name: string): string {
  return `jp-mlops-monitoring-${kind}-${name}`;
}

/** A job's or a deployment's runs over time: the view, at a refresh interval that follows
 * the settings while the tab is open. */
export class MonitoringContent extends ReactWidget {
  constructor(
    private readonly _props: Omit<
      React.ComponentProps<typeof MonitoringView>,
      'refreshInterval'
    >,
    private _refreshInterval: number
  ) {
    super();
    this.addClass('jp-mlops-MonitoringWidget');
  }

  /** Seconds between two readings of the runs; 0 reads them only on demand. */
  get refreshInterval(): number {
    return this._refreshInterval;
  }
  set refreshInterval(seconds: number) {
    if (seconds !== this._refreshInterval) {
      this._refreshInterval = seconds;
      this.update();
    }
  }

  protected render(): JSX.Element {
    return (
      <MonitoringView
        {...this._props}
        refreshInterval={this._refreshInterval}
      />
    );
  }
}

/** A job's or a deployment's runs over time, in a tab of its own. */
export function createMonitoringWidget(
  client: MonitoringClient,
  kind: MonitoredKind,
  name: string,
  trans: TranslationBundle,
  openRun: (runId: string) => void,
  refreshInterval = 0
): MainAreaWidget<MonitoringContent> {
  const content = new MonitoringContent(
    { client, kind, name, trans, openRun },
    refreshInterval
  );
  const widget = new MainAreaWidget({ content });
  widget.id = monitoringWidgetId(kind, name);
  widget.title.label = trans.__('Monitor: %1', name);
  widget.title.icon = mlopsIcon;
  widget.title.closable = true;
  return widget;
}
