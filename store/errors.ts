/**
 * Typed errors shared by the library and the CLI.
 *
 * Each class carries the Go library's sentinel text as its base message; an optional
 * context is prefixed as Go's `fmt.Errorf("%s: %w", ctx, err)` would, so that
 * `String(err)` equals what the Go CLI prints while `instanceof` still identifies the kind.
 *
 * @module
 */

/** Base of every error raised by this library. */
export class StorageError extends Error {
  /** The Go sentinel text without any context. */
  readonly base: string;
  constructor(base: string, context?: string, options?: ErrorOptions) {
    super(context ? `${context}: ${base}` : base, options);
    this.base = base;
    this.name = new.target.name;
  }
}

/** A layer reference matched no layer (`layer not known`). */
export class LayerUnknownError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("layer not known", context, options);
  }
}
/** An image reference matched no image (`image not known`). */
export class ImageUnknownError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("image not known", context, options);
  }
}
/** A container reference matched no container (`container not known`). */
export class ContainerUnknownError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("container not known", context, options);
  }
}
/** `delete-layer` on something that is not a layer. */
export class NotALayerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("identifier is not a layer", context, options);
  }
}
/** `delete-image` on something that is not an image. */
export class NotAnImageError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("identifier is not an image", context, options);
  }
}
/** `delete-container` on something that is not a container. */
export class NotAContainerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("identifier is not a container", context, options);
  }
}
/** `set-metadata` and friends found nothing of any kind. */
export class NotALayerImageOrContainerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("identifier is not a layer, image, or container", context, options);
  }
}
/** A name is held by another item of the same kind. */
export class DuplicateNameError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("that name is already in use", context, options);
  }
}
/** An ID is held by another item of the same kind. */
export class DuplicateIDError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("that ID is already in use", context, options);
  }
}
/** A caller-given ID is not acceptable as a single path component. */
export class InvalidIDError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("invalid ID", context, options);
  }
}
/** The would-be parent layer belongs to a container. */
export class ParentIsContainerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("would-be parent layer is a container", context, options);
  }
}
/** A layer with children cannot be deleted safely. */
export class LayerHasChildrenError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("layer has children", context, options);
  }
}
/** A layer that is an image's top layer cannot be deleted safely. */
export class LayerUsedByImageError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("layer is in use by an image", context, options);
  }
}
/** A layer that is a container's layer cannot be deleted safely (also: mounted at shutdown). */
export class LayerUsedByContainerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("layer is in use by a container", context, options);
  }
}
/** An image used by a container cannot be deleted safely. */
export class ImageUsedByContainerError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("image is in use by a container", context, options);
  }
}
/** The layer must be mounted for this operation. */
export class LayerNotMountedError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("layer is not mounted", context, options);
  }
}
/** A big-data key that cannot be stored. */
export class InvalidBigDataNameError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("not a valid name for a big data item", context, options);
  }
}
/** A big-data item has no recorded size. */
export class SizeUnknownError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("size is not known", context, options);
  }
}
/** A big-data item has no recorded digest. */
export class DigestUnknownError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("could not compute digest of item", context, options);
  }
}
/** A digest string is not `algorithm:hex`. */
export class InvalidDigestFormatError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("invalid checksum digest format", context, options);
  }
}
/** A digest's hex part has the wrong length for its algorithm. */
export class InvalidDigestLengthError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("invalid checksum digest length", context, options);
  }
}
/** A digest algorithm other than sha256/sha384/sha512. */
export class UnsupportedDigestError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("unsupported digest algorithm", context, options);
  }
}
/** The named driver does not exist or cannot work here. */
export class DriverNotSupportedError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("driver not supported", context, options);
  }
}
/**
 * The driver cannot work on this filesystem (Go's graphdriver.ErrPrerequisites);
 * driver auto-detection moves on to the next driver, as for DriverNotSupportedError.
 */
export class DriverPrerequisitesError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("prerequisites for driver not satisfied (wrong filesystem?)", context, options);
  }
}
/** A driver option the driver does not know. */
export class DriverOptionError extends StorageError {}
/** Neither a graph root nor a run root was configured. */
export class StoreOptionsMissingError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("no storage runroot or graphroot specified: missing necessary StoreOptions", context, options);
  }
}
/** An item lives in a read-only (additional) store. */
export class ReadOnlyError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("not allowed to modify a read-only store", context, options);
  }
}
/** The operation is not supported by the driver or store. */
export class NotSupportedError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("operation not supported", context, options);
  }
}
/** A store file could not be parsed; the file is named in the message and left untouched. */
export class CorruptFileError extends StorageError {
  /** Path of the file that failed to parse. */
  readonly path: string;
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(detail, `loading ${path}`, options);
    this.path = path;
  }
}
/** A tar stream or compressed stream was malformed. */
export class ArchiveError extends StorageError {}
/** A tar entry would write, link or follow outside the target root. */
export class UnsafeArchiveError extends ArchiveError {}
/** A size, digest or CRC did not match what was recorded. */
export class IntegrityError extends StorageError {}
/** A lock file could not be opened or locked. */
export class LockError extends StorageError {}
/** A failure of a system call, carrying the errno. */
export class SystemError extends StorageError {
  /** The errno value (e.g. 2 for ENOENT). */
  readonly errno: number;
  /** The errno symbol (e.g. `ENOENT`), when known. */
  readonly code: string;
  constructor(message: string, errno: number, code: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.errno = errno;
    this.code = code;
  }
}

/** Prefixes `context` to any error, keeping its class when it is a StorageError. */
export function wrapError(err: unknown, context: string): Error {
  if (err instanceof StorageError) {
    const copy = Object.create(Object.getPrototypeOf(err)) as StorageError;
    Object.assign(copy, err);
    Object.defineProperty(copy, "message", { value: `${context}: ${err.message}`, writable: true });
    Object.defineProperty(copy, "stack", { value: err.stack, writable: true });
    return copy;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new StorageError(msg, context, { cause: err });
}

/** An ID mapping that is malformed, unusable, or cannot map a given ID. */
export class IDMapError extends StorageError {}
/** A storage.conf problem (unreadable file, TOML syntax error, bad value). */
export class ConfigError extends StorageError {
  /** A line Go prints on stdout before reporting the error (`Failed to read FILE toml: ...`), if any. */
  preface?: string;
}
/** A big-data item or other file that should exist does not (Go's `os.ErrNotExist`). */
export class NotExistError extends StorageError {
  constructor(context?: string, options?: ErrorOptions) {
    super("file does not exist", context, options);
  }
}
/** An additional (read-only) image store that is missing or holds nothing for the driver. */
export class AdditionalStoreError extends StorageError {}
