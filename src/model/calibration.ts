/**
 * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that
 * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate.test.ts checks
 * that these values are the optimum of the calibration objective.
 */
export const CALIBRATION = {
  values: {
    tlbMiss: 121,
    cacheRefillPerSwitch: 10250,
    tcpRxPerSegment: 3272,
    netbackRxPerPacket: 2105,
    netfrontRxPerPacket: 1728,
    footprintScale: 1.72,
  },
  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */
  tol: 0.01,
  /** The baseline figures at these values: paper and model throughput, Mb/s. */
  figures: {},
  objective: 0,
  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */
  covariance: [
    [0.16, 0, 0, 0, 0, 0],
    [0, 0.25, 0, 0, 0, 0],
    [0, 0, 0.09, 0, 0, 0],
    [0, 0, 0, 0.09, 0, 0],
    [0, 0, 0, 0, 0.09, 0],
    [0, 0, 0, 0, 0, 0.09],
  ],
} as const;
