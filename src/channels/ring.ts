/**
 * Xen shared I/O ring (xen/include/public/io/ring.h), see docs/protocol.md section 1.
 *
 * RING_IDX is an unsigned 32-bit free-running counter that wraps at 2^32.
 * Every difference is therefore taken as `(a - b) >>> 0` ("how far a is ahead
 * of b"), which stays correct across the wrap while no side is more than 2^31
 * ahead; raw indices are never compared with `<`. Slots are `idx & (size - 1)`.
 */

export const u32 = (x: number) => x >>> 0;
/** How far `a` is ahead of `b` (u32, wrap-safe). */
export const ringDiff = (a: number, b: number) => (a - b) >>> 0;

/** Section 1.5: notify iff `event` lies in the half-open window (old, new], in u32. */
const needsNotify = (oldProd: number, newProd: number, event: number) =>
  ringDiff(newProd, event) < ringDiff(newProd, oldProd);

/** RING_COPY_*: take a private shallow copy so later writes by the peer cannot change what we validated (XSA-155). */
const copyOf = <T>(v: T): T => (typeof v === 'object' && v !== null ? { ...v } : v);

/** The shared page: header fields + slots. Both ends hold a reference to the same object (it models a shared page). */
export class SharedRing<Req, Rsp> {
  readonly size: number;
  // SHARED_RING_INIT: producers 0, events 1 so the very first message notifies.
  reqProd = 0;
  reqEvent = 1;
  rspProd = 0;
  rspEvent = 1;
  /** Union slots: a response overwrites the request in the same slot. */
  slots: Array<{ req?: Req; rsp?: Rsp }>;
  /**
   * Called before each access to a shared index or event field that the protocol's correctness
   * depends on (the points where the other end, on another CPU, may come in between). Null except
   * in the interleaving mode (src/stress/interleave.ts), which preempts there.
   */
  onAccess: (() => void) | null = null;

  constructor(size: number) {
    // Power of two so that `idx & (size - 1)` is the slot (section 1.3); <= 2^31 keeps the mask a valid int32.
    if (!Number.isInteger(size) || size < 1 || size > 0x80000000 || (size & (size - 1)) !== 0) {
      throw new RangeError(`ring size must be a power of two >= 1, got ${size}`);
    }
    this.size = size;
    this.slots = Array.from({ length: size }, () => ({}));
  }
}

/** Front end private state (netfront side). */
export class FrontRing<Req, Rsp> {
  reqProdPvt: number;
  rspCons: number;

  /**
   * FRONT_RING_ATTACH at `startIdx`. The frontend owns the shared page's initialisation
   * (section 1.1), so it also sets the whole header to the same index (producers = startIdx,
   * events = startIdx + 1), i.e. SHARED_RING_INIT shifted to startIdx.
   */
  constructor(readonly sring: SharedRing<Req, Rsp>, startIdx = 0) {
    const i = u32(startIdx);
    this.reqProdPvt = i;
    this.rspCons = i;
    sring.reqProd = i;
    sring.rspProd = i;
    sring.reqEvent = u32(i + 1);
    sring.rspEvent = u32(i + 1);
  }

  get size(): number {
    return this.sring.size;
  }

  /** RING_FREE_REQUESTS: size - outstanding (u32 difference, wrap-safe). */
  freeRequests(): number {
    return this.size - ringDiff(this.reqProdPvt, this.rspCons);
  }

  full(): boolean {
    return this.freeRequests() === 0;
  }

  /** Writes the slot at reqProdPvt (not yet visible to the backend until pushRequests). */
  putRequest(req: Req): void {
    // ring.h does no interlocking: an honest frontend never overfills (section 1.3).
    if (this.full()) throw new Error('FrontRing.putRequest: ring full');
    this.sring.slots[this.reqProdPvt & (this.size - 1)] = { req };
    this.reqProdPvt = u32(this.reqProdPvt + 1);
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY (section 1.5). */
  pushRequests(): { notify: boolean } {
    const sr = this.sring;
    if (sr.onAccess !== null) sr.onAccess();
    const oldProd = sr.reqProd;
    const newProd = this.reqProdPvt;
    sr.reqProd = newProd; // publish after the slot writes (write barrier point)
    if (sr.onAccess !== null) sr.onAccess(); // mb(): the event is read after the producer is visible
    return { notify: needsNotify(oldProd, newProd, sr.reqEvent) };
  }

  unconsumedResponses(): number {
    if (this.sring.onAccess !== null) this.sring.onAccess();
    return ringDiff(this.sring.rspProd, this.rspCons);
  }

  /** RING_RESPONSE_PROD_OVERFLOW (section 1.7): the backend claims more responses than could exist. */
  responseProdOverflow(): boolean {
    return ringDiff(this.sring.rspProd, this.rspCons) > this.size;
  }

  /** Reads (a private copy of) the slot at rspCons and advances. */
  takeResponse(): Rsp {
    const slot = this.sring.slots[this.rspCons & (this.size - 1)];
    if (slot.rsp === undefined) throw new Error(`FrontRing.takeResponse: no response in slot for idx ${this.rspCons}`);
    this.rspCons = u32(this.rspCons + 1);
    return copyOf(slot.rsp);
  }

  /** RING_FINAL_CHECK_FOR_RESPONSES (section 1.6): re-arm then re-check, closing the lost-wakeup race. */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    if (this.sring.onAccess !== null) this.sring.onAccess();
    this.sring.rspEvent = u32(this.rspCons + 1);
    return this.unconsumedResponses() > 0; // mb() then re-read rsp_prod
  }
}

/** Back end private state (netback side). */
export class BackRing<Req, Rsp> {
  rspProdPvt: number;
  reqCons: number;

  /**
   * BACK_RING_ATTACH at `startIdx`. The backend never re-initialises the page (section 1.1); it only
   * writes the header fields it owns: rspProd = startIdx and reqEvent = startIdx + 1 (idempotent
   * when the frontend already initialised the page at the same index).
   */
  constructor(
    readonly sring: SharedRing<Req, Rsp>,
    startIdx = 0,
    /**
     * What a slot holding no request reads as (shared memory always holds *something*: zeroes, or a stale
     * response). Without it such a read throws; a backend facing a lying frontend passes one.
     */
    readonly blank?: () => Req,
  ) {
    const i = u32(startIdx);
    this.rspProdPvt = i;
    this.reqCons = i;
    sring.rspProd = i;
    sring.reqEvent = u32(i + 1);
  }

  get size(): number {
    return this.sring.size;
  }

  /**
   * RING_HAS_UNCONSUMED_REQUESTS (section 1.7): min(reqProd - reqCons, size - (reqCons - rspProdPvt)).
   * The second term caps a lying frontend: we never hold more than `size` requests without responses.
   */
  unconsumedRequests(): number {
    if (this.sring.onAccess !== null) this.sring.onAccess();
    const claimed = ringDiff(this.sring.reqProd, this.reqCons);
    const inFlight = ringDiff(this.reqCons, this.rspProdPvt);
    // Clamp at 0 (C would wrap to a huge unsigned value) if we ever over-consumed.
    return inFlight >= this.size ? 0 : Math.min(claimed, this.size - inFlight);
  }

  /** RING_REQUEST_PROD_OVERFLOW: the frontend is lying about req_prod. */
  requestProdOverflow(): boolean {
    return ringDiff(this.sring.reqProd, this.rspProdPvt) > this.size;
  }

  /** RING_REQUEST_CONS_OVERFLOW: stop consuming, every slot already holds an unanswered request. */
  requestConsOverflow(): boolean {
    return ringDiff(this.reqCons, this.rspProdPvt) >= this.size;
  }

  /** RING_COPY_REQUEST: shallow private copy of the slot at reqCons (single fetch, XSA-155), then advance. */
  takeRequest(): Req {
    const slot = this.sring.slots[this.reqCons & (this.size - 1)];
    const req = slot.req; // one fetch of the slot
    if (req === undefined && !this.blank) throw new Error(`BackRing.takeRequest: no request in slot for idx ${this.reqCons}`);
    this.reqCons = u32(this.reqCons + 1);
    return req === undefined ? this.blank!() : copyOf(req);
  }

  /** Writes the response at rspProdPvt, overwriting that slot's request (union slot). */
  putResponse(rsp: Rsp): void {
    // rsp_prod must never pass req_cons (invariant I4): one response per consumed request.
    if (ringDiff(this.reqCons, this.rspProdPvt) === 0) throw new Error('BackRing.putResponse: no consumed request to answer');
    this.sring.slots[this.rspProdPvt & (this.size - 1)] = { rsp };
    this.rspProdPvt = u32(this.rspProdPvt + 1);
  }

  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY (section 1.5). */
  pushResponses(): { notify: boolean } {
    const sr = this.sring;
    if (sr.onAccess !== null) sr.onAccess();
    const oldProd = sr.rspProd;
    const newProd = this.rspProdPvt;
    sr.rspProd = newProd;
    if (sr.onAccess !== null) sr.onAccess(); // mb()
    return { notify: needsNotify(oldProd, newProd, sr.rspEvent) };
  }

  /** RING_FINAL_CHECK_FOR_REQUESTS (section 1.6). */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    if (this.sring.onAccess !== null) this.sring.onAccess();
    this.sring.reqEvent = u32(this.reqCons + 1);
    return this.unconsumedRequests() > 0; // mb() then re-read req_prod
  }

  /** Set the wake-up threshold directly, e.g. reqProd + 1 to batch (netif RX backend, section 1.6). */
  setReqEvent(v: number): void {
    this.sring.reqEvent = u32(v);
  }
}
