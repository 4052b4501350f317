// Pooling, channels-last (NHWC): max, average and global average, forward and backward side by side.
//
// Shapes (geometry struct `geom`, ../../src/abi.ts "Convolution geometry", with OC == C, G == 1):
//   x, dx (B,H,W,C)     y, dy (B,OH,OW,C)     argmax (B,OH,OW,C) i32
//   The window of output pixel (oh, ow) is rows ih = oh*SH - PT + kh, cols iw = ow*SW - PL + kw;
//   its positions outside the input are SKIPPED (never a candidate, never counted). The
//   geometry check guarantees every window has at least one position inside.
//
//   max forward    y[b,oh,ow,c] = max over the window of x[b,ih,iw,c]; argmax = ih*W + iw of the
//                  chosen element: the first maximum in scan order (kh, then kw); a NaN wins (the first)
//   max backward   dx[b, argmax / W, argmax % W, c] += dy[b,oh,ow,c]
//   avg forward    y[b,oh,ow,c] = (sum over the window's inside positions of x) / (their count)
//   avg backward   dx[b,ih,iw,c] += dy[b,oh,ow,c] / count(oh, ow), for every inside (ih, iw) of the window
//   global avg     x (B,HW,C), y (B,C): y[b,c] = (sum_p x[b,p,c]) / HW;  dx[b,p,c] += dy[b,c] / HW
//
// Channels are contiguous, so every loop is vectorised over c (f32x4 in the SIMD build, then a
// scalar tail); the window is walked per output pixel. The backward scatters (max by argmax, avg
// over the window) go output pixel by output pixel, so overlapping windows add in a fixed order.

let B: i32 = 0, H: i32 = 0, W: i32 = 0, C: i32 = 0, OH: i32 = 0, OW: i32 = 0;
let KH: i32 = 0, KW: i32 = 0, SH: i32 = 0, SW: i32 = 0, PT: i32 = 0, PL: i32 = 0;

function readGeometry(geom: usize): void {
  B = load<i32>(geom); H = load<i32>(geom, 4); W = load<i32>(geom, 8); C = load<i32>(geom, 12);
  OH = load<i32>(geom, 16); OW = load<i32>(geom, 20);
  KH = load<i32>(geom, 28); KW = load<i32>(geom, 32); SH = load<i32>(geom, 36); SW = load<i32>(geom, 40);
  PT = load<i32>(geom, 44); PL = load<i32>(geom, 48);
}

// The window of the current output pixel, clipped to the input: rows [ihLo, ihHi), cols [iwLo, iwHi).
let ihLo: i32 = 0, ihHi: i32 = 0, iwLo: i32 = 0, iwHi: i32 = 0;

// @ts-ignore: decorator
@inline function windowRows(oh: i32): void { const r = oh * SH - PT; ihLo = max(0, r); ihHi = min(H, r + KH); }
// @ts-ignore: decorator
@inline function windowCols(ow: i32): void { const s = ow * SW - PL; iwLo = max(0, s); iwHi = min(W, s + KW); }

// ---- max pooling -----------------------------------------------------------------------------

export function maxPool2dForward(y: usize, argmax: usize, x: usize, geom: usize): void {
  readGeometry(geom);
  const pix = <usize>C << 2, row = <usize>W * pix;
  let yp = y, ap = argmax;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * H * row;
    for (let oh = 0; oh < OH; oh++) {
      windowRows(oh);
      for (let ow = 0; ow < OW; ow++) {
        windowCols(ow);
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          for (; c + 4 <= C; c += 4) {
            const cc = <usize>c << 2;
            let m = v128.load(img + <usize>ihLo * row + <usize>iwLo * pix + cc);
            let idx = i32x4.splat(ihLo * W + iwLo);
            let first = true;
            for (let ih = ihLo; ih < ihHi; ih++) {
              for (let iw = iwLo; iw < iwHi; iw++) {
                if (first) { first = false; continue; }
                const v = v128.load(img + <usize>ih * row + <usize>iw * pix + cc);
                // take v when it is larger, or a NaN while m is not: the first max / first NaN stays
                const take = v128.or(f32x4.gt(v, m), v128.and(f32x4.ne(v, v), f32x4.eq(m, m)));
                m = v128.bitselect(v, m, take);
                idx = v128.bitselect(i32x4.splat(ih * W + iw), idx, take);
              }
            }
            v128.store(yp + cc, m);
            v128.store(ap + cc, idx);
          }
        }
        for (; c < C; c++) {
          const cc = <usize>c << 2;
          let m = load<f32>(img + <usize>ihLo * row + <usize>iwLo * pix + cc);
          let idx = ihLo * W + iwLo;
          for (let ih = ihLo; ih < ihHi; ih++) {
            for (let iw = iwLo; iw < iwHi; iw++) {
              const v = load<f32>(img + <usize>ih * row + <usize>iw * pix + cc);
              if (v > m || (v != v && m == m)) { m = v; idx = ih * W + iw; }
            }
          }
          store<f32>(yp + cc, m);
          store<i32>(ap + cc, idx);
        }
        yp += pix;
        ap += pix;
      }
    }
  }
}

export function maxPool2dBackward(dx: usize, dy: usize, argmax: usize, geom: usize): void {
  readGeometry(geom);
  const pix = <usize>C << 2;
  const outPixels = OH * OW;
  let dp = dy, ap = argmax;
  for (let b = 0; b < B; b++) {
    const img = dx + <usize>b * H * W * pix;
    for (let p = 0; p < outPixels; p++) {
      for (let c = 0; c < C; c++) {
        const cc = <usize>c << 2;
        const q = img + <usize>load<i32>(ap + cc) * pix + cc;
        store<f32>(q, load<f32>(q) + load<f32>(dp + cc));
      }
      dp += pix;
      ap += pix;
    }
  }
}

// ---- average pooling -------------------------------------------------------------------------

export function avgPool2dForward(y: usize, x: usize, geom: usize): void {
  readGeometry(geom);
  const pix = <usize>C << 2, row = <usize>W * pix;
  let yp = y;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * H * row;
    for (let oh = 0; oh < OH; oh++) {
      windowRows(oh);
      for (let ow = 0; ow < OW; ow++) {
        windowCols(ow);
        const n = <f32>((ihHi - ihLo) * (iwHi - iwLo));
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          const nv = f32x4.splat(n);
          for (; c + 4 <= C; c += 4) {
            const cc = <usize>c << 2;
            let s = f32x4.splat(0);
            for (let ih = ihLo; ih < ihHi; ih++) {
              let p = img + <usize>ih * row + <usize>iwLo * pix + cc;
              for (let iw = iwLo; iw < iwHi; iw++) { s = f32x4.add(s, v128.load(p)); p += pix; }
            }
            v128.store(yp + cc, f32x4.div(s, nv));
          }
        }
        for (; c < C; c++) {
          const cc = <usize>c << 2;
          let s: f32 = 0;
          for (let ih = ihLo; ih < ihHi; ih++) {
            let p = img + <usize>ih * row + <usize>iwLo * pix + cc;
            for (let iw = iwLo; iw < iwHi; iw++) { s += load<f32>(p); p += pix; }
          }
          store<f32>(yp + cc, s / n);
        }
        yp += pix;
      }
    }
  }
}

export function avgPool2dBackward(dx: usize, dy: usize, geom: usize): void {
  readGeometry(geom);
  const pix = <usize>C << 2, row = <usize>W * pix;
  let dp = dy;
  for (let b = 0; b < B; b++) {
    const img = dx + <usize>b * H * row;
    for (let oh = 0; oh < OH; oh++) {
      windowRows(oh);
      for (let ow = 0; ow < OW; ow++) {
        windowCols(ow);
        const n = <f32>((ihHi - ihLo) * (iwHi - iwLo));
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          const nv = f32x4.splat(n);
          for (; c + 4 <= C; c += 4) {
            const cc = <usize>c << 2;
            const g = f32x4.div(v128.load(dp + cc), nv);
            for (let ih = ihLo; ih < ihHi; ih++) {
              let p = img + <usize>ih * row + <usize>iwLo * pix + cc;
              for (let iw = iwLo; iw < iwHi; iw++) { v128.store(p, f32x4.add(v128.load(p), g)); p += pix; }
            }
          }
        }
        for (; c < C; c++) {
          const cc = <usize>c << 2;
          const g = load<f32>(dp + cc) / n;
          for (let ih = ihLo; ih < ihHi; ih++) {
            let p = img + <usize>ih * row + <usize>iwLo * pix + cc;
            for (let iw = iwLo; iw < iwHi; iw++) { store<f32>(p, load<f32>(p) + g); p += pix; }
          }
        }
        dp += pix;
      }
    }
  }
}

// ---- global average pooling: x (B,HW,C), y (B,C) ---------------------------------------------

export function globalAvgPoolForward(y: usize, x: usize, B: i32, HW: i32, C: i32): void {
  const pix = <usize>C << 2;
  const n = <f32>HW;
  for (let b = 0; b < B; b++) {
    const img = x + <usize>b * HW * pix, yb = y + <usize>b * pix;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const nv = f32x4.splat(n);
      // 16 channels summed down the image at once: four independent chains
      for (; c + 16 <= C; c += 16) {
        const cc = <usize>c << 2;
        let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
        let p = img + cc;
        for (let i = 0; i < HW; i++) {
          s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
          s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
          p += pix;
        }
        v128.store(yb + cc, f32x4.div(s0, nv)); v128.store(yb + cc, f32x4.div(s1, nv), 16);
        v128.store(yb + cc, f32x4.div(s2, nv), 32); v128.store(yb + cc, f32x4.div(s3, nv), 48);
      }
      for (; c + 4 <= C; c += 4) {
        const cc = <usize>c << 2;
        let s = f32x4.splat(0);
        let p = img + cc;
        for (let i = 0; i < HW; i++) { s = f32x4.add(s, v128.load(p)); p += pix; }
        v128.store(yb + cc, f32x4.div(s, nv));
      }
    }
    for (; c < C; c++) {
      const cc = <usize>c << 2;
      let s: f32 = 0;
      let p = img + cc;
      for (let i = 0; i < HW; i++) { s += load<f32>(p); p += pix; }
      store<f32>(yb + cc, s / n);
    }
  }
}

export function globalAvgPoolBackward(dx: usize, dy: usize, B: i32, HW: i32, C: i32): void {
  const pix = <usize>C << 2;
  const n = <f32>HW;
  let p = dx;
  for (let b = 0; b < B; b++) {
    const db = dy + <usize>b * pix;
    for (let i = 0; i < HW; i++) {
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        const nv = f32x4.splat(n);
        for (; c + 4 <= C; c += 4) {
          const cc = <usize>c << 2;
          v128.store(p + cc, f32x4.add(v128.load(p + cc), f32x4.div(v128.load(db + cc), nv)));
        }
      }
      for (; c < C; c++) {
        const cc = <usize>c << 2;
        store<f32>(p + cc, load<f32>(p + cc) + load<f32>(db + cc) / n);
      }
      p += pix;
    }
  }
}
