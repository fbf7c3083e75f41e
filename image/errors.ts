/**
 * Errors of image import and export. They extend the shared bases of `store/errors.ts`
 * (StorageError, IntegrityError) so that callers can test either the family or the kind;
 * texts follow containers/image's wording where it has one.
 *
 * @module
 */
import { IntegrityError, StorageError } from "../store/errors.ts";

/** A source or destination string that names no supported transport or is malformed. */
export class ImageReferenceError extends StorageError {}

/** A manifest, index or config that cannot be parsed or is of an unsupported media type. */
export class ManifestError extends StorageError {}

/** A blob the manifest refers to is not in the source. */
export class BlobUnknownError extends StorageError {
  /** The digest that was looked for. */
  readonly digest: string;
  constructor(digest: string, context?: string, options?: ErrorOptions) {
    super(`blob ${digest} not found`, context, options);
    this.digest = digest;
  }
}

/** A blob's content does not match its digest or size (c/image: `Digest did not match`). */
export class DigestMismatchError extends IntegrityError {
  constructor(expected: string, got: string, context?: string, options?: ErrorOptions) {
    super(`Digest did not match, expected ${expected}, got ${got}`, context, options);
  }
}

/** A blob is shorter or longer than its descriptor says. */
export class BlobSizeMismatchError extends IntegrityError {
  constructor(digest: string, expected: number, got: number, context?: string, options?: ErrorOptions) {
    super(`blob ${digest}: size ${got} does not match expected size ${expected}`, context, options);
  }
}

/** An index or archive holds several images and the caller did not say which one. */
export class ImageChoiceError extends StorageError {}
