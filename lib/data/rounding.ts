/**
 * When a fitted spread is rounding noise. A column constant in the fitted data should get a
 * spread of exactly 0, but its float64 mean can be off by a few ulps (the float64 mean of 1000
 * float64 values 0.1 is 0.09999999999999859), and the std computed around it is then about 1e-15,
 * not 0: dividing by it would turn 0.11 at predict time into about 7e12. Standardizer and
 * TabularPreprocessor therefore treat such a column as constant (only centred), in fit and when
 * reading a file that stored such a std.
 */

/**
 * Whether a std computed from n rows around `mean` is within the rounding error the float64 mean
 * of n numbers can carry, n * eps * |mean|. scikit-learn's StandardScaler tests its variance
 * against the same bound, from Chan, Golub and LeVeque's error analysis of the two-pass variance.
 */
export function withinRounding(std: number, mean: number, n: number): boolean {
  return std <= n * Number.EPSILON * Math.abs(mean);
}

/**
 * The row count a file from before the fitted rows were recorded is read with: 2^24 rows, a bound
 * of 2^24 * eps = 2^-28 * |mean| (about 4e-9 relative). The noise a fit stored for a constant
 * column is some tens of eps (about 1e-15 for a column of 0.1, 1e-14 relative), far below it,
 * while a real column that varies by a millionth of its mean (timestamps in milliseconds over an
 * hour) stays far above it; a larger bound (the 2^32 rows an array can hold, about 1e-6 relative)
 * would have made such a column constant.
 */
export const UNRECORDED_ROWS = 2 ** 24;
