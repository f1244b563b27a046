import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { ExperimentSummary } from '../api/types';
import { RunsModel } from '../runs/model';

/** The experiment whose runs a runs model shows, chosen from the list. */
export function ExperimentSelect(props: {
  model: RunsModel;
  experiments: ExperimentSummary[];
  trans: TranslationBundle;
}): JSX.Element {
  const { model, experiments, trans } = props;
  return (
    <HTMLSelect
      aria-label={trans.__('Experiment')}
      value={model.experimentId ?? ''}
      onChange={event => void model.setExperiment(event.target.value || null)}
    >
      <option value="">{trans.__('Choose an experiment')}</option>
      {experiments.map(e => (
        <option key={e.experiment_id} value={e.experiment_id}>
          {e.name}
        </option>
      ))}
    </HTMLSelect>
  );
}
