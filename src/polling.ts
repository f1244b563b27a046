import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

/** The longest wait between two looks after failed ones, unless a model says otherwise. */
export const DEFAULT_BACKOFF_MAX = 120 * 1000;

/** How a model follows the server. */
export interface IPollingOptions {
  /** The poll's name, `jupyter-mlops:…` (shown by Lumino's debugging tools). */
  name: string;
  /** Milliseconds between two looks; `Poll.NEVER`: only when asked. */
  interval: number;
  /**
   * The longest wait after failed looks, in milliseconds: each failure makes the next
   * wait up to three times longer, up to this (and never shorter than `interval`).
   */
  max?: number;
}

/**
 * The base of every model that follows the server: a `changed` signal for the views, and
 * a Lumino `Poll` used the same way by all of them. The poll starts when the model's
 * section is in use ({@link startPolling}) and stops when it is not
 * ({@link stopPolling}); it stands by while the page is hidden; a look that fails (its
 * {@link look} rejects) makes the next one wait longer, up to `max`, and the first look
 * that succeeds brings the interval back; {@link dispose} ends it. Models know nothing of
 * React: views render from them and listen to `changed`.
 */
export abstract class PollingModel implements IDisposable {
  constructor(options: IPollingOptions) {
    this._max = options.max ?? DEFAULT_BACKOFF_MAX;
    this._poll = new Poll({
      auto: false,
      factory: () => this.look(),
      frequency: this._frequency(options.interval),
      name: options.name,
      standby: 'when-hidden'
    });
  }

  /** Emitted whenever what the views show changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Whether the poll was started (and not stopped since). */
  get polling(): boolean {
    return this._polling;
  }

  /** The milliseconds between two looks (`Poll.NEVER`: only when asked). */
  get pollInterval(): number {
    return this._poll.frequency.interval;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._polling = false;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * One look at the server, the poll's tick. It rejects when the look failed (after
   * keeping the error for the views), so the poll waits longer before the next one.
   */
  protected abstract look(): Promise<void>;

  /**
   * Follow the server: a first look now (or after one interval when `now` is false: the
   * model has just loaded), then one every interval.
   */
  protected startPolling(now = true): void {
    if (this._isDisposed || this._polling) {
      return;
    }
    this._polling = true;
    void this._poll.schedule({
      interval: now ? Poll.IMMEDIATE : this._poll.frequency.interval,
      phase: 'started'
    });
  }

  /** Stop following the server (a look under way still lands). */
  protected stopPolling(): void {
    if (this._isDisposed || !this._polling) {
      return;
    }
    this._polling = false;
    void this._poll.stop();
  }

  /** Look now, and then every interval again (when the poll is started). */
  protected pollNow(): void {
    if (!this._isDisposed && this._polling) {
      void this._poll.refresh();
    }
  }

  /**
   * Change the interval; a started poll's next look moves to the new interval at once
   * (the look already scheduled would otherwise keep the old one).
   */
  protected setPollInterval(interval: number): void {
    if (this._isDisposed || this._poll.frequency.interval === interval) {
      return;
    }
    this._poll.frequency = this._frequency(interval);
    if (this._polling) {
      void this._poll.schedule({ interval, phase: 'started' });
    }
  }

  /** Tell the views (unless the model is gone). */
  protected emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _frequency(interval: number): IPoll.Frequency {
    return { interval, backoff: true, max: Math.max(this._max, interval) };
  }

  private _changed = new Signal<this, void>(this);
  private _poll: Poll;
  private _max: number;
  private _polling = false;
  private _isDisposed = false;
}
