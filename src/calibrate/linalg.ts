/** Small dense linear algebra for the calibration's normal equations (a few dozen unknowns at most). */

export type Matrix = number[][];

/** Solve A x = b by Gaussian elimination with partial pivoting; throws on a singular A. */
export function solve(A: Matrix, b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    if (Math.abs(M[piv][c]) < 1e-300) throw new RangeError('singular matrix');
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      if (f !== 0) for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let v = M[r][n];
    for (let k = r + 1; k < n; k++) v -= M[r][k] * x[k];
    x[r] = v / M[r][r];
  }
  return x;
}

/** The inverse of A, column by column. */
export function inverse(A: Matrix): Matrix {
  const n = A.length;
  const cols = Array.from({ length: n }, (_, j) => solve(A, Array.from({ length: n }, (_, i) => (i === j ? 1 : 0))));
  return Array.from({ length: n }, (_, i) => cols.map((c) => c[i]));
}

/** JᵀJ and Jᵀr of a residual Jacobian J (rows: residuals, columns: parameters). */
export function normalEquations(J: Matrix, r: number[]): { JtJ: Matrix; Jtr: number[] } {
  const p = J[0]?.length ?? 0;
  const JtJ = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const Jtr = new Array<number>(p).fill(0);
  for (let k = 0; k < J.length; k++) {
    for (let i = 0; i < p; i++) {
      Jtr[i] += J[k][i] * r[k];
      for (let j = 0; j < p; j++) JtJ[i][j] += J[k][i] * J[k][j];
    }
  }
  return { JtJ, Jtr };
}
