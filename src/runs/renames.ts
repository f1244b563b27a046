import { ISessionContext } from '@jupyterlab/apputils';

/**
 * The Python a kernel runs, silently, when its notebook is renamed or moved: kernels with
 * jupyter-mlops installed learn the new path (runs then go to the experiment of the new
 * name), also when the notebook is renamed before `%load_ext` (the usual "Untitled"
 * case); other kernels are left untouched. Paths go in as JSON strings, which Python
 * reads as the same string literals.
 */
export function renameCode(oldPath: string, newPath: string): string {
  return (
    "(lambda util: util.find_spec('jupyter_mlops') and " +
    "__import__('jupyter_mlops.tracking.renames', fromlist=['notebook_moved'])" +
    `.notebook_moved(${JSON.stringify(oldPath)}, ${JSON.stringify(newPath)}))` +
    "(__import__('importlib.util', fromlist=['find_spec']))"
  );
}

/** Tell a notebook's Python kernel each time the notebook's path changes. */
export function followRenames(sessionContext: ISessionContext): void {
  let path = sessionContext.path;
  sessionContext.propertyChanged.connect(async (context, property) => {
    if (property !== 'path' || context.path === path) {
      return;
    }
    const oldPath = path;
    path = context.path;
    const kernel = context.session?.kernel;
    if (!kernel) {
      return;
    }
    const info = await kernel.info;
    if (info.language_info.name !== 'python') {
      return;
    }
    kernel.requestExecute({
      code: renameCode(oldPath, path),
      silent: true,
      store_history: false
    });
  });
}
