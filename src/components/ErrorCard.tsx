import { TranslationBundle } from '@jupyterlab/translation';
import { Button, errorIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MlopsApiError } from '../api/request';

/**
 * An error shown in place of the content it stops, with a way to try again when trying
 * again can help (no `onRetry`: no Retry button).
 */
export function ErrorCard(props: {
  error: MlopsApiError;
  trans: TranslationBundle;
  onRetry?: () => void;
}): JSX.Element {
  const { error, trans, onRetry } = props;
  return (
    <div className="jp-mlops-ErrorCard" role="alert">
      <errorIcon.react tag="span" className="jp-mlops-ErrorCard-icon" />
      <div className="jp-mlops-ErrorCard-body">
        <div className="jp-mlops-ErrorCard-message">{error.message}</div>
        {onRetry && (
          <Button
            type="button"
            className="jp-mlops-ErrorCard-retry"
            minimal
            small
            onClick={onRetry}
          >
            {trans.__('Retry')}
          </Button>
        )}
      </div>
    </div>
  );
}
