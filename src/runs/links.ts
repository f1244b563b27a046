import { IDisposable } from '@lumino/disposable';

/** The query argument of a run's JupyterLab URL, as run cards write it. */
const RUN_ARG = 'mlops-run';
const RUN_ID = /^[A-Za-z0-9_-]+$/;

/**
 * The run a link opens, when it is a run link of this JupyterLab (`<base>/lab?mlops-run=ID`,
 * same origin, same base URL); `null` for any other link.
 */
export function runOfLink(href: string, appUrl: string): string | null {
  let url: URL;
  let app: URL;
  try {
    app = new URL(appUrl);
    url = new URL(href, app);
  } catch {
    return null;
  }
  const base = app.pathname.replace(/\/+$/, '');
  if (url.origin !== app.origin || url.pathname.replace(/\/+$/, '') !== base) {
    return null;
  }
  const runId = url.searchParams.get(RUN_ARG);
  return runId && RUN_ID.test(runId) ? runId : null;
}

/**
 * Clicks on run links anywhere in `host` (run cards under tracked cells, in any notebook)
 * open the run in this JupyterLab rather than in a second one in a new browser tab. A
 * click with a modifier key or another button is left to the browser, which opens a tab
 * as the user asked.
 */
export function openRunLinksHere(
  host: HTMLElement,
  appUrl: string,
  open: (runId: string) => void
): IDisposable {
  const onClick = (event: MouseEvent) => {
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.ctrlKey ||
      event.metaKey ||
      event.shiftKey ||
      event.altKey
    ) {
      return;
    }
    const target = event.target as Element | null;
    const anchor = target?.closest?.('a[href]') as HTMLAnchorElement | null;
    const runId = anchor ? runOfLink(anchor.href, appUrl) : null;
    if (runId) {
      event.preventDefault();
      event.stopPropagation();
      open(runId);
    }
  };
  host.addEventListener('click', onClick, true);
  let disposed = false;
  return {
    get isDisposed() {
      return disposed;
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        host.removeEventListener('click', onClick, true);
      }
    }
  };
}
