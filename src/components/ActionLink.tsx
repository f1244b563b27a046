import * as React from 'react';

/**
 * A link that does something in the application (opens a run, a file, a folder) rather
 * than navigate: `href="#"` keeps it focusable and styled as a link, and the default
 * navigation is prevented. Other attributes (class, title, aria-*) pass through.
 */
export function ActionLink(
  props: Omit<
    React.AnchorHTMLAttributes<HTMLAnchorElement>,
    'href' | 'onClick'
  > & {
    onActivate: () => void;
  }
): JSX.Element {
  const { onActivate, children, ...rest } = props;
  return (
    <a
      href="#"
      {...rest}
      onClick={event => {
        event.preventDefault();
        onActivate();
      }}
    >
      {children}
    </a>
  );
}
