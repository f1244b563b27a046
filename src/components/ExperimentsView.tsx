import { TranslationBundle } from '@jupyterlab/translation';
import { InputGroup, searchIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsApiError } from '../api/request';
import type { ExperimentSummary } from '../api/types';
import { barWidth, relativeTime, runCountText } from '../format';
import { ActionLink } from './ActionLink';
import { ErrorCard } from './ErrorCard';
import { useNow } from './useNow';

interface IExperimentsViewProps {
  experiments: ExperimentSummary[];
  error: MlopsApiError | null;
  loading: boolean;
  search: string;
  trans: TranslationBundle;
  onSearch: (search: string) => void;
  onRetry: () => void;
  /** Open the experiment's runs in the full-width Runs view. */
  onOpen: (experimentId: string) => void;
}

/**
 * Experiments with their run counts, drawn as bars so the busy ones stand out, most
 * recently updated first.
 */
export function ExperimentsView(props: IExperimentsViewProps): JSX.Element {
  const { experiments, error, loading, trans } = props;
  const [search, setSearch] = React.useState(props.search);
  // The latest callback and search, without restarting the pause at each render.
  const asked = React.useRef({
    search: props.search,
    onSearch: props.onSearch
  });
  asked.current = { search: props.search, onSearch: props.onSearch };
  // Re-rendered every 30 s, so "updated" times stay true.
  useNow(30000);
  React.useEffect(() => {
    // Asked once typing pauses.
    const timer = setTimeout(() => {
      if (search !== asked.current.search) {
        asked.current.onSearch(search);
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [search]);

  const largest = Math.max(0, ...experiments.map(e => e.run_count));
  let body: JSX.Element;
  if (error) {
    body = <ErrorCard error={error} trans={trans} onRetry={props.onRetry} />;
  } else if (experiments.length === 0) {
    body = (
      <div className="jp-mlops-Placeholder">
        {loading
          ? trans.__('Loading experiments…')
          : search
            ? trans.__('No experiment name contains “%1”.', search)
            : trans.__(
                'No experiments yet. Track a cell with %%track to create one.'
              )}
      </div>
    );
  } else {
    body = (
      <ul
        className="jp-mlops-ExperimentList"
        aria-label={trans.__('Experiments')}
      >
        {experiments.map(experiment => (
          <li
            key={experiment.experiment_id}
            className={`jp-mlops-Experiment${
              experiment.lifecycle_stage === 'deleted' ? ' jp-mod-deleted' : ''
            }`}
            data-experiment-id={experiment.experiment_id}
            title={trans.__(
              'Experiment %1 · artifacts in %2',
              experiment.experiment_id,
              experiment.artifact_location ?? '?'
            )}
          >
            <div className="jp-mlops-Experiment-header">
              <ActionLink
                className="jp-mlops-Experiment-name"
                title={trans.__('Open the runs of %1', experiment.name)}
                onActivate={() => props.onOpen(experiment.experiment_id)}
              >
                {experiment.name}
              </ActionLink>
              <span className="jp-mlops-Experiment-count">
                {trans._n(
                  '%1 run',
                  '%1 runs',
                  experiment.run_count,
                  runCountText(
                    experiment.run_count,
                    experiment.run_count_capped
                  )
                )}
              </span>
            </div>
            <div className="jp-mlops-Bar" aria-hidden="true">
              <div
                className="jp-mlops-Bar-fill"
                style={{ width: `${barWidth(experiment.run_count, largest)}%` }}
              />
            </div>
            <div className="jp-mlops-Experiment-meta">
              {trans.__(
                'updated %1',
                relativeTime(experiment.last_update_time)
              )}
            </div>
          </li>
        ))}
      </ul>
    );
  }
  return (
    <div className="jp-mlops-Experiments">
      <InputGroup
        className="jp-mlops-Search"
        type="text"
        placeholder={trans.__('Filter experiments')}
        aria-label={trans.__('Filter experiments by name')}
        value={search}
        rightIcon={searchIcon}
        onChange={event => setSearch(event.target.value)}
      />
      {body}
    </div>
  );
}
