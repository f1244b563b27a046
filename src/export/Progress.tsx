import * as React from 'react';

/**
 * A progress line for work whose size is unknown: a moving bar (announced to screen
 * readers as a progress bar with `label`) and what is going on.
 */
export function BusyLine(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-mlops-export-progress" role="status">
      <div
        className="jp-mlops-export-bar jp-mod-indeterminate"
        role="progressbar"
        aria-label={props.label}
      >
        <div className="jp-mlops-export-barFill" />
      </div>
      <span>{props.children}</span>
    </div>
  );
}
