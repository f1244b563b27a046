import { LabIcon } from '@jupyterlab/ui-components';

import mlopsSvg from '../style/icons/mlops.svg';

/** The MLOps panel's icon, themed through the `jp-icon3` class of its paths. */
export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:mlops',
  svgstr: mlopsSvg
});
