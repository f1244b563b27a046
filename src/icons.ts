import { LabIcon } from '@jupyterlab/ui-components';

import exportSvg from '../style/icons/export.svg';
import mlopsSvg from '../style/icons/mlops.svg';

/** The MLOps panel's icon, themed through the `jp-icon3` class of its paths. */
export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:mlops',
  svgstr: mlopsSvg
});

/** "Export to Pipeline": a notebook becoming a job (notebook toolbar, menus). */
export const exportIcon = new LabIcon({
  name: 'jupyter-mlops:export',
  svgstr: exportSvg
});
