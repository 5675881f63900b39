/**
 * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that
 * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate.test.ts checks
 * that these values are the optimum of the calibration objective.
 */
export const CALIBRATION = {
  values: {
    tcpRxPerSegment: 3408.76843942,
    netfrontRxPerPacket: 1724.22763853,
    netbackRxPerPacket: 1742.99560164,
    tlbMiss: 129.319437766,
    cacheRefillPerSwitch: 24166.7973836,
    footprintCodeScale: 1.91694771163,
    footprintDataScale: 0.981937411567,
  },
  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */
  tol: 0.01,
  /** The baseline figures at these values: paper and model throughput, Mb/s. */
  figures: {
    'linux-tx': { paper: 3760, model: 3765.9 },
    'linux-rx': { paper: 2508, model: 2504.3 },
    'driver-rx': { paper: 1738, model: 1740.6 },
    'guest-tx': { paper: 750, model: 750.1 },
    'guest-rx': { paper: 820, model: 854.7 },
  },
  objective: 12.5545,
  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */
  covariance: [
    [0.008291, 0.0005511, 0.0009724, 0.0003906, 0.002806, -0.003181, 0.0007261],
    [0.0005511, 0.08169, 0.004199, -0.007416, -0.007486, -0.0001086, -0.02213],
    [0.0009724, 0.004199, 0.0795, -0.02402, -0.01169, 0.009958, 0.01716],
    [0.0003906, -0.007416, -0.02402, 0.03285, -0.05795, -0.01235, 0.003989],
    [0.002806, -0.007486, -0.01169, -0.05795, 0.2147, 0.01819, -0.008909],
    [-0.003181, -0.0001086, 0.009958, -0.01235, 0.01819, 0.006809, -0.001086],
    [0.0007261, -0.02213, 0.01716, 0.003989, -0.008909, -0.001086, 0.02623],
  ],
} as const;
