/**
 * Opens an image source named by a transport string.
 *
 * @module
 */
import { openDockerArchive, openOciArchive } from "./archive.ts";
import { openOciLayout } from "./oci_layout.ts";
import { type ChooseOptions, type ImageLocation, parseLocation, type SourceImage } from "./source.ts";

/** Opens `oci:DIR[:REF]`, `oci-archive:FILE[:REF]` or `docker-archive:FILE[:REF]`. */
export async function openImageSource(
  source: string | ImageLocation,
  options: ChooseOptions = {},
): Promise<SourceImage> {
  const loc = typeof source === "string" ? parseLocation(source) : source;
  switch (loc.transport) {
    case "oci":
      return await openOciLayout(loc.path, loc.ref, options);
    case "oci-archive":
      return await openOciArchive(loc.path, loc.ref, options);
    case "docker-archive":
      return await openDockerArchive(loc.path, loc.ref);
  }
}
