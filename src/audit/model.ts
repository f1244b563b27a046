import { ISignal, Signal } from '@lumino/signaling';

import type {
  AuditEntry,
  AuditVerification,
  IAuditQuery,
  LineageClient
} from '../api/lineage';
import { MlopsApiError, asApiError } from '../api/request';

/** What the timeline is filtered by, as typed (times as `datetime-local` values). */
export interface IAuditFilters {
  kind: string;
  subject: string;
  since: string;
  until: string;
}

export const NO_FILTERS: IAuditFilters = {
  kind: '',
  subject: '',
  since: '',
  until: ''
};

/** A `datetime-local` value (the browser's local time) as ISO 8601 UTC; '' stays ''. */
export function isoTime(local: string): string | undefined {
  if (!local.trim()) {
    return undefined;
  }
  const when = new Date(local);
  return isNaN(when.getTime()) ? local : when.toISOString();
}

/** The query the filters make (empty fields left out). */
export function auditQuery(filters: IAuditFilters, limit: number): IAuditQuery {
  return {
    kind: filters.kind.replace(/\s+/g, '') || undefined,
    subject: filters.subject.trim() || undefined,
    since: isoTime(filters.since),
    until: isoTime(filters.until),
    limit
  };
}

/**
 * The audit trail as the timeline shows it: the entries matching the filters, newest
 * first, a page at a time, and the chain's status (`GET audit/verify`).
 */
export class AuditModel {
  constructor(
    readonly client: LineageClient,
    readonly pageSize = 100
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get filters(): IAuditFilters {
    return this._filters;
  }
  get entries(): readonly AuditEntry[] {
    return this._entries;
  }
  get verification(): AuditVerification | null {
    return this._verification;
  }
  get error(): MlopsApiError | null {
    return this._error;
  }
  get loading(): boolean {
    return this._loading;
  }
  /** Whether older entries match the filters. */
  get hasMore(): boolean {
    return this._cursor !== null;
  }

  /** Filter by `filters` and read the first page again. */
  setFilters(filters: IAuditFilters): Promise<void> {
    this._filters = { ...filters };
    return this.refresh();
  }

  /** The newest entries and the chain's status, read again. */
  async refresh(): Promise<void> {
    const attempt = ++this._attempt;
    this._loading = true;
    this._changed.emit();
    const [page, verification] = await Promise.allSettled([
      this.client.audit(auditQuery(this._filters, this.pageSize)),
      this.client.verifyAudit()
    ]);
    if (attempt !== this._attempt) {
      return;
    }
    this._loading = false;
    if (page.status === 'fulfilled') {
      this._entries = page.value.entries;
      this._cursor = page.value.next_cursor;
      this._error = null;
    } else {
      this._error = asApiError(page.reason);
    }
    this._verification =
      verification.status === 'fulfilled' ? verification.value : null;
    if (verification.status === 'rejected' && !this._error) {
      this._error = asApiError(verification.reason);
    }
    this._changed.emit();
  }

  /** The next page of older entries. */
  async loadMore(): Promise<void> {
    if (this._cursor === null || this._loading) {
      return;
    }
    const attempt = this._attempt;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.client.audit({
        ...auditQuery(this._filters, this.pageSize),
        cursor: this._cursor
      });
      if (attempt === this._attempt) {
        this._entries = [...this._entries, ...page.entries];
        this._cursor = page.next_cursor;
      }
    } catch (reason) {
      this._error = asApiError(reason);
    }
    this._loading = false;
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _filters: IAuditFilters = { ...NO_FILTERS };
  private _entries: AuditEntry[] = [];
  private _cursor: number | null = null;
  private _verification: AuditVerification | null = null;
  private _error: MlopsApiError | null = null;
  private _loading = false;
  private _attempt = 0;
}
