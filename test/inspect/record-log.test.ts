/** The recorder's log on disk: what goes in comes back in order, across buffer flushes; a failed write names its output. */
import { expect } from 'chai';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordLog } from '../../src/inspect/record-log.js';

const dir = mkdtempSync(join(tmpdir(), 'xennet-log-'));

describe('record log', () => {
  it('reads back every kind of record in order, across many flushes of a small buffer', () => {
    const log = new RecordLog(join(dir, 'a.log'), 'trace.json', 64);
    const want: unknown[] = [];
    for (let i = 0; i < 500; i++) {
      const t = i * 1e9 + 0.5;
      switch (i % 5) {
        case 0: log.state(t, i, i * 3); want.push(['state', t, i, i * 3]); break;
        case 1: { const d = i % 4 === 1 ? `data:${i}:é` : i % 4 === 3 ? `ack:${i}:${'x'.repeat(i % 100)}` : undefined; log.message(t, i, i + 1, i % 7, d); want.push(['message', t, i, i + 1, i % 7, d]); break; }
        case 2: log.op(t, i % 7, `dom${i % 3}`, i % 4 ? `dom${i % 5}` : null, i, 2 ** 40 + i); want.push(['op', t, i % 7, `dom${i % 3}`, i % 4 ? `dom${i % 5}` : null, i, 2 ** 40 + i]); break;
        case 3: log.wire(t, i, i + 2, i % 2, i, 2 ** 33 + i, 1448, 2 ** 34 + i, 65535.5); want.push(['wire', t, i, i + 2, i % 2, i, 2 ** 33 + i, 1448, 2 ** 34 + i, 65535.5]); break;
        case 4: {
          if (i % 10 === 4) { const j = JSON.stringify({ t, big: 'x'.repeat(i) }); log.sample(j); want.push(['sample', j]); } else { log.kept(i); want.push(['kept', i]); }
          break;
        }
      }
    }
    const got: unknown[] = [];
    log.read({
      state: (...a) => got.push(['state', ...a]),
      message: (...a) => got.push(['message', ...a]),
      op: (...a) => got.push(['op', ...a]),
      wire: (...a) => got.push(['wire', ...a]),
      sample: (...a) => got.push(['sample', ...a]),
      kept: (...a) => got.push(['kept', ...a]),
    });
    expect(log.records).to.equal(500);
    expect(log.bytes).to.be.greaterThan(64 * 10); // it did flush, many times
    expect(got).to.deep.equal(want);
    log.dispose();
    expect(existsSync(join(dir, 'a.log'))).to.equal(false);
  });

  it('gives back each text of a frame holding thousands of them (multi-byte and astral characters among them)', () => {
    const log = new RecordLog(join(dir, 'b.log'), 'trace.json');
    const want: unknown[] = [];
    const texts = ['', 'data:1:2', 'é', '\u{1F600}x', 'ack:3:' + 'y'.repeat(300)];
    for (let i = 0; i < 5000; i++) {
      const d = i % 7 === 6 ? undefined : texts[i % 5] + i;
      log.message(i, 1, 2, 3, d); want.push([i, d]);
    }
    const j = JSON.stringify({ a: 'ü'.repeat(3000) });
    log.sample(j);
    const got: unknown[] = [];
    let sample = '';
    log.read({ message: (t, _f, _to, _ty, d) => got.push([t, d]), sample: (s) => { sample = s; } });
    expect(log.bytes).to.be.lessThan(1 << 20); // one frame
    expect(got).to.deep.equal(want);
    expect(sample).to.equal(j);
    log.dispose();
  });

  it('a write that fails (a full device) is an error naming the output the log serves', () => {
    const log = new RecordLog('/dev/full', 'out/trace.json', 64);
    expect(() => { for (let i = 0; i < 100; i++) log.state(i, i, i); }).to.throw(/cannot write out\/trace\.json: no space left on device/);
  });
});
