import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  ReactWidget,
  SidePanel,
  ToolbarButton,
  UseSignal,
  refreshIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { ExperimentsView } from './components/ExperimentsView';
import { StatusView } from './components/StatusView';
import { mlopsIcon } from './icons';
import { MlopsModel } from './model';

/** Identifier of the panel in the left sidebar (and in the layout restorer). */
export const PANEL_ID = 'jp-mlops-panel';

/**
 * The MLOps sidebar: a side panel whose sections (status, experiments; runs, data and
 * jobs later) each render from the shared model.
 */
export class MlopsPanel extends SidePanel {
  constructor(
    readonly model: MlopsModel,
    translator: ITranslator
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
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh status and experiments'),
        onClick: () => void model.refresh()
      })
    );
    this.addWidget(section(model, trans, trans.__('Status'), 'status'));
    this.addWidget(
      section(model, trans, trans.__('Experiments'), 'experiments')
    );
  }

  protected onAfterShow(): void {
    void this.model.start();
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}

function section(
  model: MlopsModel,
  trans: TranslationBundle,
  title: string,
  kind: 'status' | 'experiments'
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
          />
        )
      }
    </UseSignal>
  );
  widget.title.label = title;
  widget.addClass(`jp-mlops-Section-${kind}`);
  return widget;
}
