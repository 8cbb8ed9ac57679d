/**
 * Public API of src/imaging: the Volume type with its geometry, and the shared kernels every analysis builds on.
 * Conventions (docs/imaging-kernels.md): voxel (i, j, k) at i + j·nx + k·nx·ny; lengths in mm; kernels are pure
 * functions with one options object, return new volumes, and keep origin/direction (crop/resample update them).
 */
export * from './volume.ts';
export type { KernelOptions, MmLength } from './kernel-options.ts';
export { kernelThreads, resolveThreads, startKernelPool, shutdownKernelPool } from './parallel.ts';
export { gaussian, gaussianDerivative, gradientMagnitude, gaussianKernel1D } from './gaussian.ts';
export type { GaussianOptions, GaussianDerivativeOptions } from './gaussian.ts';
export { hessianEigenvalues, hessianAt, symmetricEigen3 } from './hessian.ts';
export { eigenvalues3 } from './hessian-core.ts';
export type { HessianOptions, HessianEigenvalues, HessianAtOptions, HessianAtResult, SymmetricEigen } from './hessian.ts';
export { resample, resampleToGrid, sampleLinear, toFloat32 } from './resample.ts';
export type { Interpolation, GridGeometry, ResampleOptions, ResampleToGridOptions } from './resample.ts';
export { crop, embed, maskBoundingBox, expandBox } from './crop.ts';
export type { Box } from './crop.ts';
export { threshold, maskAnd, maskOr, maskNot, maskCount, insideMask } from './mask.ts';
export type { ThresholdOptions } from './mask.ts';
export { connectedComponents, largestComponent, removeSmallComponents, selectLabels } from './components.ts';
export type { Connectivity, ComponentsOptions, ComponentsResult, RemoveSmallOptions } from './components.ts';
export { distanceTransform } from './distance.ts';
export type { DistanceOptions } from './distance.ts';
export { dilate, erode, open, close, fillHoles, fillHoles2D } from './morphology.ts';
export type { MorphologyOptions, FillHoles2DOptions } from './morphology.ts';
export { regionStats, labelStats } from './stats.ts';
export type { RegionStats } from './stats.ts';
export { localMaxima } from './maxima.ts';
export type { LocalMaximaOptions, LocalMaximum } from './maxima.ts';
export { radialCap, sphereDirections } from './radial.ts';
export type { RadialCapOptions, RadialCapResult } from './radial.ts';
export { parseNifti, readNifti, encodeNifti, writeNifti, quaternionToMatrix, matrixToQuaternion, NIFTI_DATATYPE } from './nifti.ts';
export type { NiftiImage, NiftiWriteOptions } from './nifti.ts';
export {
  registerVolumes, warpVolume, applyAffine, composeAffine, invertAffine, rigidAffine, eulerRotation, affineAbout, rotationAngleDeg,
  transformDiscrepancyMm, boxProbePoints, IDENTITY_AFFINE,
} from './registration.ts';
export type { Affine4, RegistrationMetric, RegistrationOptions, RegistrationLevel, RegistrationResult } from './registration.ts';
