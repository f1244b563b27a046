import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { AuditEntry, AuditVerification } from '../api/lineage';
import { AuditModel, IAuditFilters } from '../audit/model';
import { ErrorCard } from './ErrorCard';
import { useModel } from './useRequest';

/** The chain's status: intact, or the first bad entry in the error colour. */
export function ChainStatus(props: {
  verification: AuditVerification | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { verification, trans } = props;
  if (!verification) {
    return (
      <div className="jp-mlops-AuditStatus">
        {trans.__('Checking the chain…')}
      </div>
    );
  }
  if (verification.intact) {
    return (
      <div className="jp-mlops-AuditStatus jp-mlops-mod-intact" role="status">
        {trans._n(
          'Chain intact: %1 entry.',
          'Chain intact: %1 entries.',
          verification.entries
        )}
      </div>
    );
  }
  const bad = verification.first_bad;
  return (
    <div className="jp-mlops-AuditStatus jp-mlops-mod-broken" role="alert">
      {bad
        ? trans.__(
            'Chain broken at line %1 (%2): %3',
            bad.line,
            bad.reason,
            bad.message
          )
        : trans.__('Chain broken.')}
    </div>
  );
}

function What(props: { what: AuditEntry['what'] }): JSX.Element {
  const entries = Object.entries(props.what ?? {});
  if (entries.length === 0) {
    return <span className="jp-mlops-Muted">—</span>;
  }
  const summary = entries
    .slice(0, 3)
    .map(([key, value]) =>
      typeof value === 'object' ? key : `${key}=${String(value)}`
    )
    .join(', ');
  return (
    <details>
      <summary>{summary}</summary>
      <pre>{JSON.stringify(props.what, null, 2)}</pre>
    </details>
  );
}

/**
 * The audit trail as a timeline, newest first: filters by kind, subject and time, the
 * chain's status above, the entry that breaks it (if any) marked in the error colour.
 */
export function AuditView(props: {
  model: AuditModel;
  trans: TranslationBundle;
}): JSX.Element {
  const model = useModel(props.model);
  const { trans } = props;
  const [draft, setDraft] = React.useState<IAuditFilters>(model.filters);
  const badSeq = model.verification?.first_bad?.seq ?? null;
  const field = (name: keyof IAuditFilters) => ({
    value: draft[name],
    onChange: (event: React.ChangeEvent<HTMLInputElement>) =>
      setDraft({ ...draft, [name]: event.target.value })
  });

  return (
    <div className="jp-mlops-Audit">
      <ChainStatus verification={model.verification} trans={trans} />
      <form
        className="jp-mlops-AuditFilters"
        onSubmit={event => {
          event.preventDefault();
          void model.setFilters(draft);
        }}
      >
        <label>
          {trans.__('Kind')}
          <input
            className="jp-mod-styled"
            placeholder="export,build"
            {...field('kind')}
          />
        </label>
        <label>
          {trans.__('Subject')}
          <input
            className="jp-mod-styled"
            placeholder="churn/*"
            {...field('subject')}
          />
        </label>
        <label>
          {trans.__('Since')}
          <input
            className="jp-mod-styled"
            type="datetime-local"
            {...field('since')}
          />
        </label>
        <label>
          {trans.__('Until')}
          <input
            className="jp-mod-styled"
            type="datetime-local"
            {...field('until')}
          />
        </label>
        <Button type="submit" small>
          {trans.__('Filter')}
        </Button>
        <Button
          type="button"
          small
          minimal
          onClick={() => void model.refresh()}
        >
          {trans.__('Refresh')}
        </Button>
      </form>
      {model.error && (
        <ErrorCard
          error={model.error}
          trans={trans}
          onRetry={() => void model.refresh()}
        />
      )}
      {model.entries.length === 0 && !model.loading && !model.error ? (
        <div className="jp-mlops-Muted">{trans.__('No entries match.')}</div>
      ) : (
        <table className="jp-mlops-AuditTable">
          <thead>
            <tr>
              <th>#</th>
              <th>{trans.__('When')}</th>
              <th>{trans.__('Kind')}</th>
              <th>{trans.__('Subject')}</th>
              <th>{trans.__('Who')}</th>
              <th>{trans.__('What')}</th>
            </tr>
          </thead>
          <tbody>
            {model.entries.map(entry => (
              <tr
                key={`${entry.seq}-${entry.hash}`}
                className={
                  entry.seq === badSeq ? 'jp-mlops-mod-bad' : undefined
                }
                data-seq={entry.seq}
              >
                <td>{entry.seq}</td>
                <td>
                  <time dateTime={entry.time}>
                    {new Date(entry.time).toLocaleString()}
                  </time>
                </td>
                <td>{entry.kind}</td>
                <td>{entry.subject}</td>
                <td>{entry.who}</td>
                <td>
                  <What what={entry.what} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {model.hasMore && (
        <Button
          type="button"
          small
          minimal
          disabled={model.loading}
          onClick={() => void model.loadMore()}
        >
          {trans.__('Older entries')}
        </Button>
      )}
    </div>
  );
}
