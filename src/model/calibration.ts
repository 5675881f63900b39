/**
 * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that
 * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate.test.ts checks
 * that these values are the optimum of the calibration objective.
 */
export const CALIBRATION = {
  values: {
    tcpRxPerSegment: 3459.54321838,
    netfrontRxPerPacket: 1445.11081747,
    netbackRxPerPacket: 1933.75322208,
    tlbMiss: 118.895464353,
    cacheRefillPerSwitch: 18805.401274,
    footprintScale: 1.71380556074,
  },
  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */
  tol: 0.01,
  /** The baseline figures at these values: paper and model throughput, Mb/s. */
  figures: {
    'linux-tx': { paper: 3760, model: 3765.9 },
    'linux-rx': { paper: 2508, model: 2495.6 },
    'driver-rx': { paper: 1738, model: 1696.1 },
    'guest-tx': { paper: 750, model: 771.4 },
    'guest-rx': { paper: 820, model: 902.5 },
  },
  objective: 11.209,
  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */
  covariance: [
    [0.01766, 0.001605, -0.0001676, -0.01127, -0.006053, 0.0009392],
    [0.001605, 0.08495, 0.0007449, 0.003285, 0.02429, -0.001471],
    [-0.0001676, 0.0007449, 0.08988, 0.0002931, -0.003747, -0.0002276],
    [-0.01127, 0.003285, 0.0002931, 0.02007, 0.002941, -0.001709],
    [-0.006053, 0.02429, -0.003747, 0.002941, 0.1292, -0.00364],
    [0.0009392, -0.001471, -0.0002276, -0.001709, -0.00364, 0.0003149],
  ],
} as const;
