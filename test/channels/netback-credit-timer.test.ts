/**
 * Netback's transmit rate limit (netback/credit.ts and its use in tx.ts) without a machine (issue
 * 28). What each test expects is Linux xen-netback's netback.c:
 * - tx_add_credit: remaining_credit = min(remaining_credit + credit_bytes, max(131072, credit_bytes)).
 * - tx_credit_exceeded(size), called when txreq.size > remaining_credit: a pending credit timer
 *   means stay limited; if now >= credit_window_start + credit_usec the window restarts now with
 *   more credit; if the packet is still too big the timer is set for the end of the old window
 *   (next_credit), which becomes the window start, and the TX pass stops without consuming the
 *   request. Otherwise remaining_credit -= txreq.size and the request is consumed.
 * - xenvif_tx_credit_callback: tx_add_credit, then schedule the TX work again.
 */
import { expect } from 'chai';
import { PS_PER_US } from '../../src/actors/scheduler.js';
import { TxCredit, creditFor } from '../../src/channels/netback/credit.js';
import { xenvif_tx_credit_callback } from '../../src/channels/netback/tx.js';
import type { TxRequest } from '../../src/channels/netif.js';
import { bytes, harness } from '../support/netback-double.js';

const US = PS_PER_US;
const req = (over: Partial<TxRequest>): TxRequest => ({ gref: 1, offset: 0, flags: 0, id: 0, size: 100, ...over });

describe('netback credit (mutation): TxCredit', () => {
  it('starts a window at creation with one window\'s credit', () => {
    const c = new TxCredit(5000, 1000, 7 * US);
    expect(c).to.deep.include({ remaining: 5000, windowStart: 7 * US, timerPending: false, waits: 0, bytes: 5000, usec: 1000 });
  });

  it('tx_add_credit adds a window\'s credit, keeping at most 128 KiB, or one window when that is more', () => {
    const c = new TxCredit(25_000, 2000, 0);
    c.add();
    expect(c.remaining).to.equal(50_000);
    for (let i = 0; i < 4; i++) c.add();
    expect(c.remaining).to.equal(131_072);
    const big = new TxCredit(200_000, 2000, 0);
    big.remaining = 150_000;
    big.add();
    expect(big.remaining).to.equal(200_000);
  });

  it('a packet too big within the window arms the timer for the window\'s end, which starts the next window', () => {
    const c = new TxCredit(1000, 1000, 0);
    c.remaining = 300;
    expect(c.exceeded(800, 400 * US)).to.equal(600 * US);
    expect(c).to.deep.include({ remaining: 300, windowStart: 1000 * US, timerPending: true, waits: 1 });
    // While the timer is pending nothing changes, even past the window's end.
    expect(c.exceeded(800, 1500 * US)).to.equal(null);
    expect(c).to.deep.include({ remaining: 300, windowStart: 1000 * US, waits: 1 });
  });

  it('once the window has passed (at its end exactly, too) the credit is refilled, and a packet that now fits goes', () => {
    for (const now of [1000 * US, 1700 * US]) {
      const c = new TxCredit(1000, 1000, 0);
      c.remaining = 300;
      expect(c.exceeded(800, now), `at ${now / US} us`).to.equal(-1);
      expect(c).to.deep.include({ remaining: 1300, windowStart: now, timerPending: false, waits: 0 });
    }
    const early = new TxCredit(1000, 1000, 0);
    early.remaining = 300;
    expect(early.exceeded(800, 1000 * US - 1)).to.equal(1);
  });

  it('still too big after the refill: the timer is due at once (the old window\'s end, already past), which becomes the window start', () => {
    const c = new TxCredit(1000, 1000, 0);
    c.remaining = 0;
    expect(c.exceeded(5000, 2500 * US)).to.equal(0);
    expect(c).to.deep.include({ remaining: 1000, windowStart: 1000 * US, timerPending: true, waits: 1 });
  });

  it('the rate: bytes per window from Mb/s, at least one byte', () => {
    expect(creditFor(100, 2000)).to.deep.equal({ bytes: 25_000, usec: 2000 });
    expect(creditFor(1, 12)).to.deep.equal({ bytes: 2, usec: 12 }); // 1.5 rounds to 2
    expect(creditFor(0.001, 10)).to.deep.equal({ bytes: 1, usec: 10 });
  });
});

describe('netback credit (mutation): the TX pass and the credit timer', () => {
  /** A vif limited to `bytes` per `usec`, and n packets of `size` bytes the guest sends at once. */
  function limited(bytesPer: number, usec: number, size: number, n: number) {
    const h = harness();
    h.vif.credit = new TxCredit(bytesPer, usec, 0);
    for (let i = 0; i < n; i++) h.contents.set(h.frameOf(i + 1), bytes({ seq: i }));
    h.send(...Array.from({ length: n }, (_, i) => req({ gref: i + 1, id: i, size })));
    return h;
  }

  it('sends what the credit allows, stops the pass without consuming the next request, and goes on when the timer fires', () => {
    const h = limited(3000, 1000, 1000, 5);
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([0, 1, 2]);
    expect(h.vif.tx.reqCons).to.equal(3);
    expect(h.vif.control.tx).to.equal('creditWait');
    expect(h.vif.credit!).to.deep.include({ remaining: 0, timerPending: true, waits: 1 });
    expect(h.timers.map((t) => t.at)).to.deep.equal([1000 * US]);
    h.advance(1000 * US - 1);
    expect(h.forwarded).to.have.length(3);
    h.advance(1000 * US);
    expect(h.vif.credit!.timerPending).to.equal(false);
    expect(h.posted.filter((n) => n === h.vif.txTask.name)).to.have.length(2);
    h.drain();
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(h.vif.credit!.remaining).to.equal(1000);
    expect(h.vif.control.tx).to.not.equal('creditWait');
  });

  it('a packet larger than one window\'s credit waits for credit to build up over windows, then goes whole', () => {
    const h = limited(400, 1000, 1000, 1);
    expect(h.forwarded).to.have.length(0);
    h.advance(1000 * US);
    h.drain();
    expect(h.forwarded).to.have.length(0); // 800 bytes of credit: not yet
    expect(h.vif.credit!).to.deep.include({ remaining: 800, waits: 2, windowStart: 2000 * US });
    expect(h.vif.tx.reqCons).to.equal(0);
    h.advance(2000 * US);
    h.drain();
    expect(h.forwarded).to.have.length(1);
    expect(h.vif.credit!.remaining).to.equal(200);
  });

  it('a guest event while the timer is pending runs a pass that stays limited: no new timer, nothing sent', () => {
    const h = limited(1000, 1000, 1000, 2);
    expect(h.forwarded).to.have.length(1);
    h.contents.set(h.frameOf(9), bytes({ seq: 9 }));
    h.send(req({ gref: 9, id: 9, size: 100 }));
    expect(h.forwarded).to.have.length(1);
    expect(h.timers).to.have.length(1);
    expect(h.vif.credit!.waits).to.equal(1);
    expect(h.vif.control.tx).to.equal('creditWait');
    h.advance(1000 * US);
    h.drain();
    // The timer's credit lets packet 1 go; the small one behind it waits for the next window.
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([0, 1]);
    expect(h.timers.map((t) => t.at)).to.deep.equal([2000 * US]);
    h.advance(2000 * US);
    h.drain();
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([0, 1, 9]);
  });

  it('the timer of a vif that is not waiting for it only adds credit', () => {
    const h = limited(1000, 1000, 100, 1);
    expect(h.vif.control.tx).to.equal('idle');
    const posted = h.posted.length;
    h.vif.credit!.timerPending = true;
    xenvif_tx_credit_callback(h.vif);
    expect(h.vif.credit!).to.deep.include({ remaining: 1900, timerPending: false });
    expect(h.posted.length).to.equal(posted);
    expect(h.vif.control.tx).to.equal('idle');
  });
});
