/** Job names, checked as the server checks them (a DNS-1123 label: image and Kubernetes name). */
import { TranslationBundle } from '@jupyterlab/translation';

/** Longest job name the server accepts. */
export const JOB_NAME_MAX = 63;

const JOB_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The notebook's file name without folder and `.ipynb`. */
export function notebookStem(path: string): string {
  const base = path.split('/').pop() ?? path;
  return base.replace(/\.ipynb$/i, '');
}

/**
 * A valid job name made from a notebook's name, as the server derives it:
 * `Train Model (v2).ipynb` gives `train-model-v2`.
 */
export function deriveJobName(path: string): string {
  return slug(notebookStem(path));
}

/** Text made into a job name: ASCII, lowercase, runs of other characters as one "-". */
export function slug(text: string): string {
  const ascii = text.normalize('NFKD').replace(/[^\x20-\x7e]/g, '');
  const name = ascii
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, JOB_NAME_MAX)
    .replace(/-+$/, '');
  return name || 'notebook-job';
}

/** Why the server would refuse `name` as a job name, or null when it is fine. */
export function jobNameProblem(
  name: string,
  trans: TranslationBundle
): string | null {
  if (!name) {
    return trans.__('A job name is needed.');
  }
  if (name.length > JOB_NAME_MAX) {
    return trans.__(
      'At most %1 characters (this one has %2).',
      JOB_NAME_MAX,
      name.length
    );
  }
  if (!JOB_NAME.test(name)) {
    return trans.__(
      'Use lowercase letters, digits and "-", starting and ending with a letter or digit (e.g. "%1").',
      slug(name)
    );
  }
  return null;
}
