/**
 * One CPU's cycle ledger: cycles by (account, category). Charging happens
 * several times per simulated packet, so cells are integer-indexed: accounts
 * (domain names, "xen") and categories (cost rows, "copy", "checksum") are
 * interned to small ints once per process. Each cell adds its charges in the
 * order they are made, and entries() lists accounts and categories in
 * first-charge order, so every total is the same as with nested Maps.
 */
import { COSTS, type Category } from '../model/costs.js';

const CATEGORY_NAMES = [...Object.keys(COSTS), 'copy', 'checksum'] as Category[];
const NCAT = CATEGORY_NAMES.length;
/** Category name -> cell column. */
export const CATEGORY = Object.fromEntries(CATEGORY_NAMES.map((c, i) => [c, i])) as Readonly<Record<Category, number>>;

/** The hypervisor's account. */
export const XEN_ACCOUNT = 0;
const accountNames: string[] = ['xen'];
const accountIds = new Map<string, number>([['xen', XEN_ACCOUNT]]);
/** The account id of a name (a domain, or "xen"), the same for every CPU. */
export function accountId(name: string): number {
  let id = accountIds.get(name);
  if (id === undefined) { id = accountNames.length; accountNames.push(name); accountIds.set(name, id); }
  return id;
}

export class Ledger {
  /** Row acct * NCAT + category; `seen` marks cells charged since the last reset. */
  private cells = new Float64Array(4 * NCAT);
  private seen = new Uint8Array(4 * NCAT);
  /** Accounts in first-charge order, and each one's categories in first-charge order. */
  private accounts: number[] = [];
  private order: number[][] = [];

  charge(acct: number, cat: number, cycles: number): void {
    const i = acct * NCAT + cat;
    if (this.seen[i] !== 1) this.open(acct, cat, i);
    this.cells[i] += cycles;
  }

  private open(acct: number, cat: number, i: number): void {
    if (i >= this.seen.length) {
      const rows = Math.max(acct + 1, (2 * this.seen.length) / NCAT);
      const cells = new Float64Array(rows * NCAT);
      const seen = new Uint8Array(rows * NCAT);
      cells.set(this.cells);
      seen.set(this.seen);
      this.cells = cells;
      this.seen = seen;
    }
    const cats = this.order[acct] ??= [];
    if (!cats.length) this.accounts.push(acct);
    cats.push(cat);
    this.seen[i] = 1;
  }

  /** Account name -> (category -> cycles), both in first-charge order. */
  entries(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const a of this.accounts) {
      const m = new Map<string, number>();
      for (const c of this.order[a]) m.set(CATEGORY_NAMES[c], this.cells[a * NCAT + c]);
      out.set(accountNames[a], m);
    }
    return out;
  }

  /**
   * Add each account's total (its categories summed in first-charge order, as entries() lists them) into `into`, accounts in first-charge order;
   * the hypervisor's account under `xenName` (a world names each host's hypervisor apart).
   */
  addTotals(into: Record<string, number>, xenName = 'xen'): void {
    for (const a of this.accounts) {
      let n = 0;
      for (const c of this.order[a]) n += this.cells[a * NCAT + c];
      const name = a === XEN_ACCOUNT ? xenName : accountNames[a];
      into[name] = (into[name] ?? 0) + n;
    }
  }

  clear(): void {
    this.cells.fill(0);
    this.seen.fill(0);
    for (const a of this.accounts) this.order[a].length = 0;
    this.accounts.length = 0;
  }
}

/**
 * Charges in the order they were made, not yet booked: a slice's cycles are
 * known only once it is built, and only then its time span, so the CPU books
 * them into a ledger afterwards, each scaled by the share of the slice that
 * falls in the span being accounted.
 */
export class ChargeLog {
  private acct = new Int32Array(64);
  private cat = new Int32Array(64);
  private val = new Float64Array(64);
  private n = 0;

  add(acct: number, cat: number, cycles: number): void {
    if (this.n === this.val.length) this.grow();
    this.acct[this.n] = acct;
    this.cat[this.n] = cat;
    this.val[this.n++] = cycles;
  }

  /** Book every charge times `share` into `into` (share 1: the very same additions, in the same order). */
  bookInto(into: Ledger, share: number): void {
    for (let i = 0; i < this.n; i++) into.charge(this.acct[i], this.cat[i], share === 1 ? this.val[i] : this.val[i] * share);
  }

  /** Append every charge times `share` to `to`. */
  appendTo(to: ChargeLog, share: number): void {
    for (let i = 0; i < this.n; i++) to.add(this.acct[i], this.cat[i], this.val[i] * share);
  }

  clear(): void { this.n = 0; }

  private grow(): void {
    const m = 2 * this.val.length;
    const acct = new Int32Array(m), cat = new Int32Array(m), val = new Float64Array(m);
    acct.set(this.acct); cat.set(this.cat); val.set(this.val);
    this.acct = acct; this.cat = cat; this.val = val;
  }
}
