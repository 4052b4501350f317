// The convolution geometry struct (../../abi.ts "Convolution geometry") read into one reusable
// record per kernel file, so that a js conv or pool call allocates nothing.

import { GEOM } from '../../abi.js';

export class Geometry {
  B = 0; H = 0; W = 0; C = 0; OH = 0; OW = 0; OC = 0;
  KH = 0; KW = 0; SH = 0; SW = 0; PT = 0; PL = 0; G = 0;

  /** Reads the struct at byte offset `ptr`; returns this record. */
  read(i32: Int32Array, ptr: number): this {
    const at = ptr >>> 2;
    this.B = i32[at + GEOM.B]!; this.H = i32[at + GEOM.H]!; this.W = i32[at + GEOM.W]!; this.C = i32[at + GEOM.C]!;
    this.OH = i32[at + GEOM.OH]!; this.OW = i32[at + GEOM.OW]!; this.OC = i32[at + GEOM.OC]!;
    this.KH = i32[at + GEOM.KH]!; this.KW = i32[at + GEOM.KW]!; this.SH = i32[at + GEOM.SH]!; this.SW = i32[at + GEOM.SW]!;
    this.PT = i32[at + GEOM.PT]!; this.PL = i32[at + GEOM.PL]!; this.G = i32[at + GEOM.G]!;
    return this;
  }
}
