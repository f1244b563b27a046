/**
 * Newline-delimited JSON, read as it arrives: the build route streams one JSON object per
 * line, and a network chunk may end anywhere (in a line, in a multi-byte character).
 */
import { MlopsApiError } from './request';

/** What `ReadableStreamDefaultReader<Uint8Array>` offers, and all that is needed of it. */
export interface IByteReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel?(reason?: unknown): Promise<void>;
}

/** Cuts text into complete lines, keeping a partial last line until more text comes. */
export class LineSplitter {
  /** The complete lines in `text` and what came before it; `\r\n` endings are accepted. */
  push(text: string): string[] {
    this._rest += text;
    const parts = this._rest.split('\n');
    this._rest = parts.pop() ?? '';
    return parts.map(line => line.replace(/\r$/, ''));
  }

  /** The last line, when the stream ended without a final newline. */
  flush(): string[] {
    const rest = this._rest.replace(/\r$/, '');
    this._rest = '';
    return rest ? [rest] : [];
  }

  private _rest = '';
}

/** One line as JSON, or an error saying the stream is not what the server should send. */
export function parseLine<T>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new MlopsApiError(
      `The jupyter-mlops server extension streamed a line that is not JSON: ${line.slice(0, 200)}`,
      0,
      'invalid_json'
    );
  }
}

/**
 * Read a byte stream of newline-delimited JSON to its end, handing each object to
 * `onValue` as soon as its line is complete. Blank lines are skipped.
 */
export async function readNdjson<T>(
  reader: IByteReader,
  onValue: (value: T) => void
): Promise<void> {
  const decoder = new TextDecoder('utf-8');
  const lines = new LineSplitter();
  const emit = (batch: string[]) => {
    for (const line of batch) {
      if (line.trim()) {
        onValue(parseLine<T>(line));
      }
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      if (value) {
        emit(lines.push(decoder.decode(value, { stream: true })));
      }
    }
  } catch (error) {
    // A bad line (or a consumer that gave up): stop the transfer too.
    reader.cancel?.(error).catch(() => undefined);
    throw error;
  }
  emit(lines.push(decoder.decode()));
  emit(lines.flush());
}
