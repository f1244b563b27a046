/** Notebooks the specs upload, written as a person would have saved them. */

/** A code cell: its source, and its tags (e.g. papermill's `parameters`). */
export interface ICodeCell {
  source: string;
  tags?: string[];
}

/** The JSON of a Python 3 notebook made of these code cells, none run yet. */
export function notebookJson(cells: ICodeCell[]): string {
  return JSON.stringify({
    cells: cells.map(({ source, tags = [] }) => ({
      cell_type: 'code',
      execution_count: null,
      metadata: tags.length ? { tags } : {},
      outputs: [],
      source
    })),
    metadata: {
      kernelspec: {
        display_name: 'Python 3 (ipykernel)',
        language: 'python',
        name: 'python3'
      },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}
