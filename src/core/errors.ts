/**
 * The one error catalogue of SecondReader. Every error that leaves a module is an `SrError` with a stable
 * `code` (tests assert codes, never messages), an HTTP status for the API, and the underlying `cause`.
 * Add new codes here, grouped by module; never reuse or rename a published code.
 */
export const ERROR_CATALOGUE = {
  // --- usage / configuration (CLI exit code 2) ---
  USAGE: { status: 400, title: 'Invalid command-line usage' },
  CONFIG_INVALID: { status: 500, title: 'Invalid configuration' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  IO_ERROR: { status: 500, title: 'File system error' },

  // --- DICOM reading (src/dicom) ---
  DICOM_NOT_DICOM: { status: 415, title: 'Not a DICOM file' },
  DICOM_TRUNCATED: { status: 422, title: 'DICOM file is truncated' },
  DICOM_MALFORMED: { status: 422, title: 'DICOM file is malformed' },
  DICOM_MISSING_ATTRIBUTE: { status: 422, title: 'Required DICOM attribute missing or invalid' },
  DICOM_UNSUPPORTED_TRANSFER_SYNTAX: { status: 415, title: 'Unsupported transfer syntax' },
  DICOM_NO_PIXEL_DATA: { status: 422, title: 'DICOM object has no pixel data' },
  DICOM_DECODE_FAILED: { status: 422, title: 'Pixel data could not be decoded' },
  DICOM_FRAME_OUT_OF_RANGE: { status: 400, title: 'Frame index out of range' },
  DICOM_CHARSET_UNSUPPORTED: { status: 422, title: 'Specific Character Set not supported' },
  DICOM_WRITE_FAILED: { status: 500, title: 'DICOM object could not be written' },
  DICOM_WORKER_FAILED: { status: 500, title: 'A DICOM decode worker thread failed' },
  DICOM_DECODE_TIMEOUT: { status: 504, title: 'Decoding a DICOM frame took too long' },

  // --- series → volume (src/dicom, src/imaging) ---
  SERIES_EMPTY: { status: 422, title: 'Series has no usable image slices' },
  SERIES_INCONSISTENT: { status: 422, title: 'Slices of the series are inconsistent' },
  SERIES_DUPLICATE_POSITIONS: { status: 422, title: 'Series has duplicate slice positions' },
  SERIES_MISSING_SLICES: { status: 422, title: 'Series has missing slices' },
  SERIES_NONUNIFORM_SPACING: { status: 422, title: 'Series has non-uniform slice spacing' },
  SERIES_GANTRY_TILT: { status: 422, title: 'Series is acquired with gantry tilt' },
  SERIES_GEOMETRY_MISSING: { status: 422, title: 'Series lacks the geometry to build a volume' },
  VOLUME_INVALID: { status: 422, title: 'Invalid volume' },
  NIFTI_INVALID: { status: 422, title: 'Invalid NIfTI file' },

  // --- imaging kernels ---
  KERNEL_INVALID_ARGUMENT: { status: 400, title: 'Invalid argument to an imaging kernel' },
  KERNEL_WORKER_FAILED: { status: 500, title: 'An imaging kernel worker thread failed' },

  // --- engine / analyses ---
  MANIFEST_INVALID: { status: 500, title: 'Analysis manifest is invalid' },
  ANALYSIS_DUPLICATE: { status: 500, title: 'Analysis registered twice' },
  ANALYSIS_FAILED: { status: 500, title: 'Analysis failed' },
  ANALYSIS_TIMEOUT: { status: 504, title: 'Analysis timed out' },
  OUTPUT_INVALID: { status: 500, title: 'Analysis output does not match the findings schema' },
  ANALYSIS_CANCELLED: { status: 409, title: 'Analysis cancelled before it finished' },
  PRIOR_NOT_FOUND: { status: 404, title: 'No prior study of the same patient for the analysis to compare with' },

  // --- result outputs (src/outputs) ---
  OUTPUT_BUILD_FAILED: { status: 500, title: 'DICOM objects of a result could not be built or stored' },
  OUTPUT_FORWARD_FAILED: { status: 502, title: 'Result objects could not be sent to a forwarding destination' },

  // --- human report and FHIR (src/report) ---
  REPORT_RENDER_FAILED: { status: 500, title: 'Clinical report could not be rendered' },
  REPORT_PDF_UNAVAILABLE: { status: 503, title: 'PDF rendering is unavailable (no chromium)' },

  // --- archive (src/archive) ---
  ARCHIVE_UNAVAILABLE: { status: 503, title: 'Archive database or blob store unavailable' },
  ARCHIVE_INSTANCE_INVALID: { status: 422, title: 'Instance lacks the identifiers the archive needs' },
  ARCHIVE_CONFLICT: { status: 409, title: 'Instance conflicts with what is stored' },
  ARCHIVE_STORAGE_FULL: { status: 507, title: 'Archive storage is full' },

  // --- DIMSE networking (src/dimse) ---
  DIMSE_ASSOCIATION_REJECTED: { status: 403, title: 'DICOM association rejected' },
  DIMSE_ASSOCIATION_FAILED: { status: 502, title: 'DICOM association failed or was aborted' },
  DIMSE_PEER_UNKNOWN: { status: 404, title: 'Unknown DICOM destination AE' },
  DIMSE_OPERATION_FAILED: { status: 502, title: 'DICOM operation failed at the peer' },
  DIMSE_TIMEOUT: { status: 504, title: 'DICOM peer did not answer in time' },
  DIMSE_PROTOCOL_ERROR: { status: 400, title: 'Malformed DICOM upper-layer PDU from the peer' },

  // --- DICOMweb / HTTP (src/dicomweb, src/server) ---
  HTTP_BAD_REQUEST: { status: 400, title: 'Bad request' },
  HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  HTTP_NOT_ACCEPTABLE: { status: 406, title: 'None of the accepted media types can be produced' },
  HTTP_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  HTTP_BODY_TRUNCATED: { status: 400, title: 'Request body ended before its declared end' },
  HTTP_INTERNAL_ERROR: { status: 500, title: 'Unexpected server error' },
  HTTP_RATE_LIMITED: { status: 429, title: 'Too many requests from this client; retry after the time in Retry-After' },

  // --- authentication / authorization (src/server/auth) ---
  AUTH_REQUIRED: { status: 401, title: 'Sign-in required' },
  AUTH_INVALID_CREDENTIALS: { status: 401, title: 'Wrong username or password' },
  AUTH_LOCKED: { status: 423, title: 'Account temporarily locked after repeated failed sign-ins' },
  AUTH_PASSWORD_CHANGE_REQUIRED: { status: 403, title: 'The password must be changed before anything else' },
  AUTH_PASSWORD_REJECTED: { status: 400, title: 'Password does not meet the password policy' },
  AUTH_USER_EXISTS: { status: 409, title: 'A user with this name already exists' },
  AUTH_OIDC_FAILED: { status: 401, title: 'OpenID Connect sign-in failed' },
  FORBIDDEN: { status: 403, title: 'The role of the signed-in user may not do this' },

  // --- review and report sign-off (src/server/review) ---
  REVIEW_LOCKED: { status: 409, title: 'The study report is signed; its review is locked' },
  REVIEW_INCOMPLETE: { status: 409, title: 'Findings remain without a review decision' },

  // --- jobs (src/jobs) ---
  JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  JOB_INVALID_STATE: { status: 409, title: 'Job is not in a state that allows this' },
  JOB_QUEUE_UNAVAILABLE: { status: 503, title: 'Job queue unavailable' },
  JOB_LOST: { status: 500, title: 'Job worker disappeared while running it' },
  JOB_INVALID_SPEC: { status: 400, title: 'Invalid job specification' },

  // --- evaluation / phantoms ---
  TRUTH_INVALID: { status: 422, title: 'Ground-truth file is invalid' },
  PHANTOM_INVALID_OPTIONS: { status: 400, title: 'Invalid phantom options' },

  // --- de-identification and audit trail (src/deid, src/server/audit) ---
  DEID_BURNED_IN_ANNOTATION: { status: 422, title: 'Instance has burned-in annotation; not de-identified' },
  DEID_FAILED: { status: 422, title: 'Instance could not be de-identified' },
  AUDIT_CHAIN_BROKEN: { status: 500, title: 'Audit trail hash chain does not verify' },

  // --- clinical calculators ---
  CLINICAL_INVALID_INPUT: { status: 400, title: 'Invalid input to a clinical calculator' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface SrErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Machine-readable context: file path, attribute keyword, frame index... */
  details?: Record<string, unknown>;
}

export class SrError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: SrErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SrError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, status: this.status, message: this.message, details: this.details };
  }
}

export function isSrError(e: unknown, code?: ErrorCode): e is SrError {
  return e instanceof SrError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into an SrError, keeping an existing SrError as it is. */
export function toSrError(e: unknown, code: ErrorCode, message: string, details?: Record<string, unknown>): SrError {
  if (e instanceof SrError) return e;
  return new SrError(code, `${message}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, ...(details ? { details } : {}) });
}
