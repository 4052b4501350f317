// Token embedding: a lookup of table rows by id, and its gradient as a scatter-add.
// ids (rows) f32 token ids (the model input: exact integers below 2^24), table, dtable (V, D),
// y, dy (rows, D). An id outside [0, V) (the padding id -1 included) is "no token": its output
// row is zero and it sends no gradient. Callers check ids against the vocabulary beforehand
// (../../src/kernels/list.ts: the wrappers; the embedding layer for the training loop), so here
// the range test only keeps every read and write inside the table.
//
// forward:  y[r, :]        = table[ids[r], :]     (a copy: the same bits on every backend)
// backward: dtable[ids[r], :] += dy[r, :]         rows in order r = 0, 1, ...: repeated ids
//                                                 accumulate in that order on every backend

// @ts-ignore: decorator
@inline function rowOf(ids: usize, r: i32, V: i32): i32 {
  const v = load<f32>(ids + (<usize>r << 2));
  // NaN and non-integers fail one of the tests; f32 -> i32 only after the range test.
  if (!(v >= 0 && v < <f32>V) || v != Mathf.floor(v)) return -1;
  return <i32>v;
}

export function embeddingForward(y: usize, ids: usize, table: usize, rows: i32, D: i32, V: i32): void {
  const rowBytes = <usize>D << 2;
  for (let r = 0; r < rows; r++) {
    const t = rowOf(ids, r, V);
    const yr = y + <usize>r * rowBytes;
    if (t < 0) { memory.fill(yr, 0, rowBytes); continue; }
    memory.copy(yr, table + <usize>t * rowBytes, rowBytes);
  }
}

export function embeddingBackward(dtable: usize, dy: usize, ids: usize, rows: i32, D: i32, V: i32): void {
  const rowBytes = <usize>D << 2;
  for (let r = 0; r < rows; r++) {
    const t = rowOf(ids, r, V);
    if (t < 0) continue;
    const g = dtable + <usize>t * rowBytes;
    const d = dy + <usize>r * rowBytes;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= D; c += 4) {
        const o = <usize>c << 2;
        v128.store(g + o, f32x4.add(v128.load(g + o), v128.load(d + o)));
      }
    }
    for (; c < D; c++) {
      const o = <usize>c << 2;
      store<f32>(g + o, load<f32>(g + o) + load<f32>(d + o));
    }
  }
}
