/**
 * numpy's float32 arithmetic as shardyfusion's routing code runs it (shardyfusion/vector/sharding.py
 * at b5ad9a1), reproduced in JavaScript doubles with `Math.fround` wherever numpy holds a float32:
 *
 * - element-wise float32 ops (`targets - query`, `diff * diff`, `dots / norms`): one IEEE op then
 *   `Math.fround`, which is exactly the float32 result (a double holds every float32 operand exactly
 *   and, for + - * / and sqrt, rounding the double result to float32 equals the float32 op);
 * - `np.sum(a, axis=1)` / `np.add.reduce` over a contiguous float32 row: numpy's pairwise summation
 *   (numpy/_core/src/umath/loops_utils.h.src `@TYPE@_pairwise_sum`, float32 accumulators, blocks of
 *   128 with 8 partial sums) — reproduced bit for bit by {@link pairwiseSumF32};
 * - BLAS products (`targets @ query` = sgemv, `x.dot(x)` = sdot inside `np.linalg.norm`): the
 *   summation order belongs to the BLAS kernel (OpenBLAS picks SIMD kernels with several float32
 *   accumulators and FMA per CPU), which JavaScript cannot know. {@link dotF32} accumulates the
 *   exact products in float64 and rounds once to float32: the correctly rounded value, which a
 *   float32 BLAS result differs from by a few float32 ulps at most. A routing decision can only
 *   differ when two distances (CLUSTER) or a projection and 0 (LSH) are that close.
 */

/** numpy's PW_BLOCKSIZE (loops_utils.h.src). */
const PW_BLOCKSIZE = 128;

/**
 * numpy's pairwise float32 sum of `a[start .. start+n)` (what `np.sum(x, axis=-1)` does for a
 * contiguous float32 row; the reduction starts from the identity 0, which adds exactly).
 * @param a values that are float32 (e.g. a Float32Array, or doubles already `Math.fround`ed).
 * @returns the float32 sum, as a number.
 */
export function pairwiseSumF32(a: ArrayLike<number>, start: number, n: number): number {
  const f = Math.fround;
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = a[start], r1 = a[start + 1], r2 = a[start + 2], r3 = a[start + 3];
    let r4 = a[start + 4], r5 = a[start + 5], r6 = a[start + 6], r7 = a[start + 7];
    const end = n - (n % 8);
    let i = 8;
    for (; i < end; i += 8) {
      const o = start + i;
      r0 = f(r0 + a[o]);
      r1 = f(r1 + a[o + 1]);
      r2 = f(r2 + a[o + 2]);
      r3 = f(r3 + a[o + 3]);
      r4 = f(r4 + a[o + 4]);
      r5 = f(r5 + a[o + 5]);
      r6 = f(r6 + a[o + 6]);
      r7 = f(r7 + a[o + 7]);
    }
    let res = f(f(f(r0 + r1) + f(r2 + r3)) + f(f(r4 + r5) + f(r6 + r7)));
    for (; i < n; i++) res = f(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseSumF32(a, start, n2) + pairwiseSumF32(a, start + n2, n - n2));
}

/**
 * A float32 dot product as a BLAS sdot/sgemv row would return it, approximated by the exact sum
 * (float64 accumulation of exact float32 products) rounded once to float32 (see the module note).
 * @returns the float32 value, as a number.
 */
export function dotF32(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[aOffset + j] * b[bOffset + j];
  return Math.fround(s);
}

/**
 * The float64 dot product of float32 rows (exact products, float64 accumulation in index order),
 * together with Σ|a_j·b_j|, the scale of its rounding error; for margins in reports and tests.
 */
export function dotWithScale(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, n: number): { dot: number; scale: number } {
  let s = 0;
  let scale = 0;
  for (let j = 0; j < n; j++) {
    const p = a[aOffset + j] * b[bOffset + j];
    s += p;
    scale += Math.abs(p);
  }
  return { dot: s, scale };
}

/** numpy's sort order of floats: ascending, NaN after every number. */
function compareNumpy(x: number, y: number): number {
  const xn = Number.isNaN(x);
  const yn = Number.isNaN(y);
  if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * `np.argsort(values, kind="stable")`: indices by ascending value, equal values (and NaNs, which
 * sort last) in index order.
 */
export function stableArgsort(values: ArrayLike<number>): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((i, j) => compareNumpy(values[i], values[j]) || i - j);
}

/** `np.argmin(values)`: the first NaN if any, else the first minimum. -1 for an empty array. */
export function numpyArgmin(values: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return i;
    if (best < 0 || v < values[best]) best = i;
  }
  return best;
}
