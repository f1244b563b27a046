/**
 * Rendering React views in jest's jsdom: what the browser has and jsdom lacks (Node's
 * TextDecoder and TextEncoder), React's `act`, and mounting a view to look at it.
 */
import * as React from 'react';

// react-dom has no types here.
declare const require: (id: string) => any;
const { TextDecoder, TextEncoder } = require('util');
Object.assign(globalThis, { TextDecoder, TextEncoder });

export const { createRoot } = require('react-dom/client');
export const act = React.act;

/** A host element for React, rendered into with `act`. */
export function mount(element: React.ReactElement): {
  host: HTMLDivElement;
  unmount: () => void;
} {
  (globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
  const host = document.createElement('div');
  document.body.appendChild(host);
  const root = createRoot(host);
  act(() => root.render(element));
  return {
    host,
    unmount: () => {
      act(() => root.unmount());
      host.remove();
    }
  };
}

/** Let pending promises settle and React render what they set. */
export async function settle(): Promise<void> {
  await act(async () => {
    await new Promise(resolve => setTimeout(resolve, 0));
  });
}
