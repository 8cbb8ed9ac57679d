/**
 * The safety net behind the profile table: an attribute that is neither a row of PS3.15 Table E.1-1 nor a
 * project addition (profile.ts) but whose VR can carry a person's identity — PN, or the free-text VRs LO, SH, LT,
 * ST, UT, UC — is removed unless it is on KEEP_TEXT, the explicit list of text attributes the images need to stay
 * usable. PS3.15 E.3 lets a de-identifier remove more than the table; an attribute a future edition adds (or one
 * the table misses) is then removed by default instead of kept by default.
 *
 * KEEP_TEXT is deliberately short and technical: coded-entry components, equipment make/model/software, pixel
 * value meaning (rescale, LUT and window explanations), geometry (frame of reference, stacks, dimensions),
 * acquisition and reconstruction parameters (kernel, filter, MR sequence and coil, PET reconstruction and
 * corrections, CR/US processing) and the labels segmentation and RT objects need. Names of people never are
 * (no PN is on it), nor descriptions, comments, or labels a user types (StudyDescription, ImageComments, …
 * are table rows anyway; ContentDescription, SegmentDescription, TextValue… are not kept).
 */

/** The VRs whose values can spell a name or free text (PS3.5 6.2). */
export const IDENTITY_VRS: ReadonlySet<string> = new Set(['PN', 'LO', 'SH', 'LT', 'ST', 'UT', 'UC']);

/** Text attributes not in the table that are kept: needed for the images to stay usable (see the header). */
export const KEEP_TEXT: ReadonlySet<string> = new Set([
  // Coded entries: Code Sequence Macro (PS3.3 Table 8.8-1) and Coding Scheme Identification (PS3.3 C.12.1).
  'CodeValue', 'CodingSchemeDesignator', 'CodingSchemeVersion', 'CodeMeaning', 'LongCodeValue', 'MappingResourceName',
  'CodingSchemeName', 'CodingSchemeRegistry', 'CodingSchemeResponsibleOrganization', 'CodingSchemeExternalID',
  // Equipment make, model and software (General Equipment; identifying devices are table rows: serial, station).
  'Manufacturer', 'ManufacturerModelName', 'SoftwareVersions', 'ReceiveCoilManufacturerName', 'TransmitCoilManufacturerName',
  // Meaning of pixel values: Modality LUT, VOI LUT, rescale.
  'RescaleType', 'ModalityLUTType', 'LUTExplanation', 'LUTLabel', 'WindowCenterWidthExplanation', 'PixelSpacingCalibrationDescription',
  // Geometry: Frame of Reference (PositionReferenceIndicator is Type 2 there), stacks, multi-frame dimensions.
  'PositionReferenceIndicator', 'StackID', 'DimensionDescriptionLabel',
  // CT / X-ray / CR acquisition and reconstruction.
  'ConvolutionKernel', 'FilterType', 'ContrastBolusRoute', 'AcquisitionDeviceProcessingCode', 'ProcessingFunction', 'PlateType',
  'PhosphorType', 'CollimatorGridName',
  // MR acquisition.
  'SequenceName', 'PulseSequenceName', 'ImagedNucleus', 'ReceiveCoilName', 'TransmitCoilName',
  // Nuclear medicine / PET (needed for SUV and reconstruction).
  'Radiopharmaceutical', 'RadiopharmaceuticalRoute', 'ReconstructionMethod', 'ScatterCorrectionMethod', 'AttenuationCorrectionMethod',
  // Ultrasound, waveforms.
  'TransducerData', 'MultiplexGroupLabel',
  // Segmentation (SegmentLabel Type 1, SegmentAlgorithmName Type 1C in the Segment Description Macro) and RT
  // treatment-machine accessories (IDs of wedges, applicators, blocks: equipment, not people).
  'SegmentLabel', 'SegmentAlgorithmName', 'BeamName', 'WedgeID', 'ApplicatorID', 'BlockName', 'MaterialID', 'CompensatorID',
  'BlockTrayID', 'AccessoryCode', 'SourceIsotopeName', 'ToleranceTableLabel',
]);

/**
 * Text attributes outside the table and KEEP_TEXT that are Type 2 in a module this project writes or passes on:
 * their value is emptied rather than the attribute removed, so the instance stays valid (same privacy).
 * ContentDescription: Content Identification Macro (PS3.3 Table 10-12), Type 2.
 */
const EMPTY_INSTEAD: ReadonlySet<string> = new Set(['ContentDescription']);

/**
 * What the safety net does with an attribute that has no row in the table: K keep, X remove, Z empty.
 * `keyword` and `vr` are the data dictionary's (the VR as read when the dictionary has none).
 */
export function safetyNetAction(keyword: string | undefined, vr: string): 'K' | 'X' | 'Z' {
  if (!IDENTITY_VRS.has(vr)) return 'K';
  if (keyword !== undefined && vr !== 'PN' && KEEP_TEXT.has(keyword)) return 'K';
  return keyword !== undefined && EMPTY_INSTEAD.has(keyword) ? 'Z' : 'X';
}
