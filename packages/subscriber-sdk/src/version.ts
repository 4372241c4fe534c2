/** This SDK's version; a test keeps it equal to package.json's. */
export const SDK_VERSION = '0.1.0'

/**
 * Host (server) versions whose subscriber runtime speaks this SDK's contract. While the host is
 * 0.x, each minor may change the contract, hence the caret on the minor.
 */
export const SUPPORTED_HOST_RANGE = '^0.1'
