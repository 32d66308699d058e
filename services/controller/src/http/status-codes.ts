/**
 * The HTTP status of each EtlError code: how the API answers what the job service throws
 * (core's JobService says which codes it throws; what they mean in HTTP is this layer's business).
 */
export function httpStatusFor(code: string): number {
  switch (code) {
    case 'SPEC_INVALID':
    case 'SOURCE_UNAUTHORIZED':
    case 'SOURCE_INDEX_NOT_FOUND':
    case 'SOURCE_POD_INDEX':
    case 'SOURCE_UNSUPPORTED':
    case 'TARGET_UNSUPPORTED':
      return 400;
    case 'JOB_NOT_FOUND':
      return 404;
    case 'TARGET_COLLECTION_EXISTS':
    case 'JOB_STATE':
      return 409;
    case 'TARGET_UNAVAILABLE':
    case 'LOG_UNAVAILABLE':
    case 'TRANSIENT':
    case 'RATE_LIMITED':
      return 503;
    default:
      return 500;
  }
}
