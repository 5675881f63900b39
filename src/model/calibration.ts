/**
 * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that
 * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate.test.ts checks
 * that these values are the optimum of the calibration objective.
 */
export const CALIBRATION = {
  values: {
    tcpRxPerSegment: 3467.99289298,
    netfrontRxPerPacket: 1190.14242487,
    netbackRxPerPacket: 1713.24085052,
    tlbMiss: 115.38394806,
    cacheRefillPerSwitch: 27333.6991047,
    footprintScale: 1.70011119347,
  },
  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */
  tol: 0.01,
  /** The baseline figures at these values: paper and model throughput, Mb/s. */
  figures: {
    'linux-tx': { paper: 3760, model: 3765.9 },
    'linux-rx': { paper: 2508, model: 2492.1 },
    'driver-rx': { paper: 1738, model: 1711.8 },
    'guest-tx': { paper: 750, model: 748.5 },
    'guest-rx': { paper: 820, model: 872.1 },
  },
  objective: 13.7828,
  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */
  covariance: [
    [0.007459, -0.001043, -0.001511, -0.004353, -0.005151, 0.0003316],
    [-0.001043, 0.08554, -0.00716, -0.001106, -0.02386, 0.0004853],
    [-0.001511, -0.00716, 0.07825, 0.003769, -0.03899, -0.0008941],
    [-0.004353, -0.001106, 0.003769, 0.01652, 0.008722, -0.001177],
    [-0.005151, -0.02386, -0.03899, 0.008722, 0.1205, -0.001821],
    [0.0003316, 0.0004853, -0.0008941, -0.001177, -0.001821, 0.0001409],
  ],
} as const;
