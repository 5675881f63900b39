/**
 * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that
 * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate.test.ts checks
 * that these values are the optimum of the calibration objective.
 */
export const CALIBRATION = {
  values: {
    tcpRxPerSegment: 3467.78472307,
    netfrontRxPerPacket: 1131.01594911,
    netbackRxPerPacket: 1711.70402432,
    tlbMiss: 115.361912625,
    cacheRefillPerSwitch: 27339.4403875,
    footprintCodeScale: 1.70001687151,
    footprintDataScale: 1.70001687151,
  },
  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */
  tol: 0.01,
  /** The baseline figures at these values: paper and model throughput, Mb/s. */
  figures: {
    'linux-tx': { paper: 3760, model: 3765.9 },
    'linux-rx': { paper: 2508, model: 2488.6 },
    'driver-rx': { paper: 1738, model: 1712.7 },
    'guest-tx': { paper: 750, model: 757.4 },
    'guest-rx': { paper: 820, model: 868.3 },
  },
  objective: 13.3892,
  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */
  covariance: [
    [0.007361, 0.002796, 0.0009712, -0.005083, -0.004683, 0.0002966, 0.0002966],
    [0.002796, 0.07246, -0.005871, 0.0004241, 0.03344, -0.0008274, -0.0008274],
    [0.0009712, -0.005871, 0.08803, 0.001135, 0.01104, -0.000625, -0.000625],
    [-0.005083, 0.0004241, 0.001135, 0.01538, 0.01743, -0.001123, -0.001123],
    [-0.004683, 0.03344, 0.01104, 0.01743, 0.1835, -0.004813, -0.004813],
    [0.0002966, -0.0008274, -0.000625, -0.001123, -0.004813, 0.0001871, 0.0001871],
    [0.0002966, -0.0008274, -0.000625, -0.001123, -0.004813, 0.0001871, 0.0001871],
  ],
} as const;
