/**
 * Types shared by the tar reader, writer, extractor and their observers.
 *
 * @module
 */

/** Tar entry types (the `typeflag` byte). */
export const TypeFlag = {
  Reg: 0x30, // '0' (also NUL for old archives)
  Link: 0x31, // '1'
  Symlink: 0x32, // '2'
  Char: 0x33, // '3'
  Block: 0x34, // '4'
  Dir: 0x35, // '5'
  Fifo: 0x36, // '6'
  Cont: 0x37, // '7'
  PaxHeader: 0x78, // 'x'
  PaxGlobal: 0x67, // 'g'
  GnuLongName: 0x4c, // 'L'
  GnuLongLink: 0x4b, // 'K'
} as const;

/** A decoded tar header, after PAX and GNU long-name records were applied. */
export interface TarHeader {
  /** Entry name exactly as the archive resolved it (PAX path, GNU long name, or prefix/name). */
  name: string;
  /** Raw bytes of the name when it is not valid UTF-8 (else undefined). */
  nameRaw?: Uint8Array;
  /** The typeflag byte (see TypeFlag); NUL is reported as TypeFlag.Reg. */
  type: number;
  /** Permission and setuid/setgid/sticky bits (no file-type bits). */
  mode: number;
  /** Owner UID. */
  uid: number;
  /** Owner GID. */
  gid: number;
  /** User name. */
  uname: string;
  /** Group name. */
  gname: string;
  /** Payload size in bytes. */
  size: number;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** Access time, nanoseconds since the epoch, when the archive gives one. */
  atimeNs?: bigint;
  /** Link target for hard and symbolic links. */
  linkname: string;
  /** Device major number. */
  devmajor: number;
  /** Device minor number. */
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.*` PAX records, values as raw bytes. */
  xattrs: Map<string, Uint8Array>;
}

/**
 * Observes a tar stream while it is read, in stream order. Used to record
 * tar-split data, collect owner IDs and hash, all in the same single pass as
 * the extraction.
 */
export interface TarObserver {
  /** Raw bytes that are not entry payload (headers, meta records, padding, trailer). */
  segment?(bytes: Uint8Array): void;
  /** A member's header, after its raw header bytes were passed to segment(). */
  entry?(header: TarHeader): void;
  /** Payload bytes of the current member, in order. */
  payload?(bytes: Uint8Array): void;
  /** The current member's payload ended. */
  entryEnd?(): void;
  /** The stream ended (after every byte was passed on). */
  end?(): void;
  /**
   * Optional back-pressure: a promise the feeder awaits before the next chunk while the
   * observer has too much work queued elsewhere (a worker), else undefined.
   */
  ready?(): Promise<void> | undefined;
}

/** How whiteout entries (`.wh.NAME`, `.wh..wh..opq`) are stored in a layer. */
export type WhiteoutFormat =
  /** vfs and other full-copy drivers: delete what the whiteout names. */
  | "delete"
  /** overlay: char device 0/0 and the `trusted.overlay.opaque` (or `user.overlay.opaque`) xattr. */
  | "overlay"
  /** mount-program stores: keep the `.wh.*` files as ordinary empty files. */
  | "aufs";
