import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { MlopsApiError, asApiError } from '../api/request';

/** What a view knows of a request it makes through {@link useRequest}. */
export interface IRequest<T> {
  /** The last answer (kept while the request is made again), null until the first. */
  value: T | null;
  /** Why the last request failed, as the server said it; null once one succeeds. */
  error: MlopsApiError | null;
  /** Whether a request is under way. */
  loading: boolean;
  /** Make the request again now (the error card's Retry): the error is cleared at once. */
  retry: () => void;
}

interface IRequestState<T> {
  value: T | null;
  error: MlopsApiError | null;
  loading: boolean;
}

/**
 * The one way a view reads from the server without a model (a run's details, a
 * comparison, the export targets...): `request` is made when the view mounts, again
 * whenever one of `deps` changes, and on `retry()`. An answer that arrives after the view
 * is gone, or after `deps` changed or Retry asked again, is dropped; a failure becomes an
 * `MlopsApiError` (see `asApiError`), so every view shows errors one way.
 *
 * `deps` are what `request` reads, as for `React.useEffect`; the hooks lint rule checks
 * them at each call (`useRequest` is one of its `additionalHooks`), unnecessary ones
 * included. `reload` is for a value the request does not read but that should make it
 * again when it changes (a version the widget bumps after an edit, a run's end).
 */
export function useRequest<T>(
  request: () => Promise<T>,
  deps: React.DependencyList,
  reload?: unknown
): IRequest<T> {
  const [state, setState] = React.useState<IRequestState<T>>({
    value: null,
    error: null,
    loading: true
  });
  const [attempt, setAttempt] = React.useState(0);

  React.useEffect(
    () => {
      let current = true;
      setState(before =>
        before.loading ? before : { ...before, loading: true }
      );
      request().then(
        value => {
          if (current) {
            setState({ value, error: null, loading: false });
          }
        },
        reason => {
          if (current) {
            setState(before => ({
              value: before.value,
              error: asApiError(reason),
              loading: false
            }));
          }
        }
      );
      return () => {
        current = false;
      };
    },
    // `request` is a new function at every render; what it reads is in the caller's
    // `deps`, which the lint rule checks at each call (additionalHooks), so this list
    // cannot be a literal the rule could check here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [...deps, reload, attempt]
  );

  const retry = React.useCallback(() => {
    setState(before => ({ ...before, error: null, loading: true }));
    setAttempt(count => count + 1);
  }, []);
  return { ...state, retry };
}

/**
 * Render again whenever `model` says it changed: a function view's subscription to a
 * model (the class views use `UseSignal`).
 */
export function useModel<M extends { readonly changed: ISignal<M, void> }>(
  model: M
): M {
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const update = () => setVersion(version => version + 1);
    model.changed.connect(update);
    return () => {
      model.changed.disconnect(update);
    };
  }, [model]);
  return model;
}
