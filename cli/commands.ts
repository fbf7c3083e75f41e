/**
 * The command table: names, aliases, usage texts, argument counts and flags of
 * every command, with a lazy loader for the module implementing it (so that a
 * call loads only its own command group).
 *
 * Texts are copied from the Go 1.43 binary; commands and flags that only
 * upstream HEAD has carry texts modelled on it (cli.md 3).
 *
 * @module
 */

import type { FlagSpec } from "./flags.ts";
import type { Action } from "./context.ts";

/** A module implementing a group of commands, keyed by canonical command name. */
export interface CommandModule {
  /** Actions by the command's first name. */
  actions: Record<string, Action>;
}

/** One command of the CLI. */
export interface Command {
  /** Name, then aliases. */
  names: readonly string[];
  /** Synopsis after the command word in the `Usage:` line. */
  optionsHelp: string;
  /** One-line description. */
  usage: string;
  /** Fewest operands. */
  minArgs: number;
  /** Most operands; -1 for no limit (HEAD semantics: 0 means none allowed). */
  maxArgs: number;
  /** Command-specific flags (the global flags are added to every command). */
  flags: readonly FlagSpec[];
  /** Loads the implementing module. */
  load: () => Promise<CommandModule>;
}

const bool = (key: string, names: string[], usage: string): FlagSpec => ({ key, names, kind: "bool", usage });
const str = (key: string, names: string[], usage: string): FlagSpec => ({
  key,
  names,
  kind: "string",
  usage,
});
const list = (key: string, names: string[], usage: string): FlagSpec => ({ key, names, kind: "list", usage });

const JSON_FLAG = bool("json", ["-json", "j"], "Prefer JSON output");

/** `--uidmap` and friends (cli.md 4.8). */
const ID_MAP_FLAGS: FlagSpec[] = [
  str("uidmap", ["-uidmap"], "UID map"),
  str("gidmap", ["-gidmap"], "GID map"),
  str("subuidmap", ["-subuidmap"], "subuid UID map for a user"),
  str("subgidmap", ["-subgidmap"], "subgid GID map for a group"),
  bool("hostuidmap", ["-hostuidmap"], "Force host UID map"),
  bool("hostgidmap", ["-hostgidmap"], "Force host GID map"),
];

const layersMod = () => import("./layers.ts");
const imagesMod = () => import("./images.ts");
const containersMod = () => import("./containers.ts");
const namesMod = () => import("./names.ts");
const dataMod = () => import("./data.ts");
const mountMod = () => import("./mount.ts");
const diffMod = () => import("./diff.ts");
const maintMod = () => import("./maintenance.ts");

function dataCommands(kind: "container" | "image" | "layer"): Command[] {
  const an = kind === "layer" ? "a layer" : `an ${kind}`;
  const ref = kind === "layer" ? "layerID" : `${kind}NameOrID`;
  const cmds: Command[] = [
    {
      names: [`list-${kind}-data`, `list${kind}data`],
      optionsHelp: `[options [...]] ${kind === "layer" ? "layerNameOrID" : ref}`,
      usage: `List data items that are attached to ${an}`,
      minArgs: 1,
      maxArgs: 1,
      flags: [JSON_FLAG],
      load: dataMod,
    },
    {
      names: [`get-${kind}-data`, `get${kind}data`],
      optionsHelp: `[options [...]] ${ref} dataName`,
      usage: `Get data that is attached to ${an}`,
      minArgs: 2,
      maxArgs: 2,
      flags: [str("file", ["-file", "f"], "Write data to file")],
      load: dataMod,
    },
  ];
  if (kind !== "layer") {
    cmds.push(
      {
        names: [`get-${kind}-data-size`, `get${kind}datasize`],
        optionsHelp: `[options [...]] ${ref} dataName`,
        usage: `Get size of data that is attached to ${an}`,
        minArgs: 2,
        maxArgs: 2,
        flags: [],
        load: dataMod,
      },
      {
        names: [`get-${kind}-data-digest`, `get${kind}datadigest`],
        optionsHelp: `[options [...]] ${ref} dataName`,
        usage: `Get digest of data that is attached to ${an}`,
        minArgs: 2,
        maxArgs: 2,
        flags: [],
        load: dataMod,
      },
    );
  }
  cmds.push({
    names: [`set-${kind}-data`, `set${kind}data`],
    optionsHelp: `[options [...]] ${ref} dataName`,
    usage: `Set data that is attached to ${an}` + (kind === "image" ? " (with sometimes wrong digest)" : ""),
    minArgs: 2,
    maxArgs: 2,
    flags: [str("file", ["-file", "f"], "Read data from file")],
    load: dataMod,
  });
  return cmds;
}

const LAYER_CREATE_FLAGS: FlagSpec[] = [
  list("name", ["-name", "n"], "Layer name"),
  str("id", ["-id", "i"], "Layer ID"),
  str("label", ["-label", "l"], "Mount Label"),
  bool("readonly", ["-readonly", "r"], "Mark as read-only"),
  JSON_FLAG,
  ...ID_MAP_FLAGS,
];

/** Every command, in the order the global usage lists them. */
export const COMMANDS: readonly Command[] = [
  {
    names: ["check"],
    optionsHelp: "[options [...]]",
    usage: "Check storage consistency",
    minArgs: 0,
    maxArgs: 0,
    flags: [
      JSON_FLAG,
      str("max", ["-max", "m"], "Ignore unreferenced layers younger than this age (default 24h)"),
      bool("repair", ["-repair", "r"], "Remove damaged images and layers"),
      bool("force", ["-force", "f"], "Remove damaged containers"),
      bool("quick", ["-quick", "q"], "Perform only quick checks"),
    ],
    load: maintMod,
  },
  {
    names: ["config"],
    optionsHelp: "[options [...]] [configFile]",
    usage: "Print storage library configuration as JSON",
    minArgs: 0,
    maxArgs: 1,
    flags: [],
    load: maintMod,
  },
  {
    names: ["container"],
    optionsHelp: "[options [...]] containerNameOrID [...]",
    usage: "Examine a container",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: containersMod,
  },
  ...dataCommands("container"),
  {
    names: ["get-container-dir", "getcontainerdir"],
    optionsHelp: "[options [...]] containerNameOrID",
    usage: "Find the container's associated data directory",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    load: containersMod,
  },
  {
    names: ["get-container-run-dir", "getcontainerrundir"],
    optionsHelp: "[options [...]] containerNameOrID",
    usage: "Find the container's associated runtime directory",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    load: containersMod,
  },
  {
    names: ["container-parent-owners"],
    optionsHelp: "[options [...]] containerNameOrID [...]",
    usage: "Compute the set of unmapped parent UIDs and GIDs of the container",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: containersMod,
  },
  {
    names: ["containers"],
    optionsHelp: "[options [...]]",
    usage: "List containers",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: containersMod,
  },
  {
    names: ["copy"],
    optionsHelp: "[options [...]] [sourceLayerNameOrID:]/path [...] targetLayerNameOrID:/path",
    usage: "Copy files or directories into a layer, possibly from another layer",
    minArgs: 2,
    maxArgs: -1,
    flags: [JSON_FLAG, str("chown", ["-chown", "o"], "Set owner on new copies")],
    load: diffMod,
  },
  {
    names: ["create-layer", "createlayer"],
    optionsHelp: "[options [...]] [parentLayerNameOrID]",
    usage: "Create a new layer",
    minArgs: 0,
    maxArgs: 1,
    flags: LAYER_CREATE_FLAGS,
    load: layersMod,
  },
  {
    names: ["import-layer", "importlayer"],
    optionsHelp: "[options [...]] [parentLayerNameOrID]",
    usage: "Import a new layer",
    minArgs: 0,
    maxArgs: 1,
    flags: [...LAYER_CREATE_FLAGS, str("file", ["-file", "f"], "Read from file instead of stdin")],
    load: diffMod,
  },
  {
    names: ["create-storage-layer"],
    optionsHelp: "[options [...]] [parentLayerNameOrID]",
    usage: "Create a new layer only in the storage driver",
    minArgs: 0,
    maxArgs: 1,
    flags: [
      str("id", ["-id", "i"], "Layer ID"),
      str("label", ["-label", "l"], "Mount Label"),
      bool("readonly", ["-readonly", "r"], "Mark as read-only"),
      JSON_FLAG,
      ...ID_MAP_FLAGS,
    ],
    load: layersMod,
  },
  {
    names: ["create-image", "createimage"],
    optionsHelp: "[options [...]] topLayerNameOrID",
    usage: "Create a new image using layers",
    minArgs: 0,
    maxArgs: 1,
    flags: [
      list("name", ["-name", "n"], "Image name"),
      str("id", ["-id", "i"], "Image ID"),
      str("digest", ["-digest", "d"], "Image Digest"),
      str("metadata", ["-metadata", "m"], "Metadata"),
      str("metadataFile", ["-metadata-file", "f"], "Metadata File"),
      JSON_FLAG,
    ],
    load: imagesMod,
  },
  {
    names: ["create-container", "createcontainer"],
    optionsHelp: "[options [...]] parentImageNameOrID",
    usage: "Create a new container from an image",
    minArgs: 1,
    maxArgs: 1,
    flags: [
      list("name", ["-name", "n"], "Container name"),
      str("id", ["-id", "i"], "Container ID"),
      str("metadata", ["-metadata", "m"], "Metadata"),
      str("metadataFile", ["-metadata-file", "f"], "Metadata File"),
      bool("volatile", ["-volatile"], "Mark as volatile"),
      JSON_FLAG,
      ...ID_MAP_FLAGS,
    ],
    load: containersMod,
  },
  {
    names: ["dedup"],
    optionsHelp: "[options [...]]",
    usage: "Deduplicate similar files in the images",
    minArgs: 0,
    maxArgs: 0,
    flags: [
      JSON_FLAG,
      str("hashMethod", ["-hash-method"], "Specify the hash function to use to detect identical files"),
    ],
    load: maintMod,
  },
  {
    names: ["delete"],
    optionsHelp: "[LayerOrImageOrContainerNameOrID [...]]",
    usage: "Delete a layer or image or container, with no safety checks",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["delete-layer", "deletelayer"],
    optionsHelp: "[LayerNameOrID [...]]",
    usage: "Delete a layer, with safety checks",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["delete-image", "deleteimage"],
    optionsHelp: "[ImageNameOrID [...]]",
    usage: "Delete an image, with safety checks",
    minArgs: 1,
    maxArgs: -1,
    flags: [bool("test", ["-test", "t"], "Only test removal"), JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["delete-container", "deletecontainer"],
    optionsHelp: "[ContainerNameOrID [...]]",
    usage: "Delete a container, with safety checks",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["changes"],
    optionsHelp: "[options [...]] layerNameOrID [referenceLayerNameOrID]",
    usage: "Compare two layers",
    minArgs: 1,
    maxArgs: 2,
    flags: [JSON_FLAG],
    load: diffMod,
  },
  {
    names: ["diffsize", "diff-size"],
    optionsHelp: "[options [...]] layerNameOrID [referenceLayerNameOrID]",
    usage: "Compare two layers",
    minArgs: 1,
    maxArgs: 2,
    flags: [],
    load: diffMod,
  },
  {
    names: ["diff"],
    optionsHelp: "[options [...]] layerNameOrID [referenceLayerNameOrID]",
    usage: "Compare two layers",
    minArgs: 1,
    maxArgs: 2,
    flags: [
      str("file", ["-file", "f"], "Write to file instead of stdout"),
      bool("uncompressed", ["-uncompressed", "u"], "Use no compression"),
      bool("gzip", ["-gzip", "c"], "Compress using gzip"),
      bool("bzip2", ["-bzip2", "-bz2", "b"], "Compress using bzip2 (not currently supported)"),
      bool("xz", ["-xz", "x"], "Compress using xz (not currently supported)"),
    ],
    load: diffMod,
  },
  {
    names: ["applydiff", "apply-diff"],
    optionsHelp: "[options [...]] layerNameOrID [referenceLayerNameOrID]",
    usage: "Apply a diff to a layer",
    minArgs: 1,
    maxArgs: 1,
    flags: [str("file", ["-file", "f"], "Read from file instead of stdin")],
    load: diffMod,
  },
  {
    names: ["exists"],
    optionsHelp: "[LayerOrImageOrContainerNameOrID [...]]",
    usage: "Check if a layer or image or container exists",
    minArgs: 1,
    maxArgs: -1,
    flags: [
      bool("quiet", ["-quiet", "q"], "Don't print names"),
      bool("layer", ["-layer", "l"], "Only succeed if the match is a layer"),
      bool("image", ["-image", "i"], "Only succeed if the match is an image"),
      bool("container", ["-container", "c"], "Only succeed if the match is a container"),
      JSON_FLAG,
    ],
    load: namesMod,
  },
  {
    names: ["gc"],
    optionsHelp: "[options [...]]",
    usage: "Perform garbage collection",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: maintMod,
  },
  {
    names: ["image"],
    optionsHelp: "[options [...]] imageNameOrID [...]",
    usage: "Examine an image",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: imagesMod,
  },
  ...dataCommands("image"),
  {
    names: ["get-image-dir", "getimagedir"],
    optionsHelp: "[options [...]] imageNameOrID",
    usage: "Find the image's associated data directory",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    load: imagesMod,
  },
  {
    names: ["get-image-run-dir", "getimagerundir"],
    optionsHelp: "[options [...]] imageNameOrID",
    usage: "Find the image's associated runtime directory",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    load: imagesMod,
  },
  {
    names: ["images"],
    optionsHelp: "[options [...]]",
    usage: "List images",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG, bool("quiet", ["-quiet", "q"], "Only print IDs")],
    load: imagesMod,
  },
  {
    names: ["images-by-digest"],
    optionsHelp: "[options [...]] DIGEST",
    usage: "List images by digest",
    minArgs: 1,
    maxArgs: 1,
    flags: [JSON_FLAG, bool("quiet", ["-quiet", "q"], "Only print IDs")],
    load: imagesMod,
  },
  {
    names: ["import-image", "importimage"],
    optionsHelp: "[options [...]] oci:DIR[:REF] | oci-archive:FILE[:REF] | docker-archive:FILE[:REF]",
    usage: "Import an image from an OCI layout, OCI archive or docker archive",
    minArgs: 1,
    maxArgs: 1,
    flags: [
      list("name", ["-name", "n"], "Image name"),
      str("platform", ["-platform"], "Platform (OS/ARCH[/VARIANT]) to pick from a multi-platform index"),
      JSON_FLAG,
    ],
    load: () => import("./import_image.ts"),
  },
  {
    names: ["export-image", "exportimage"],
    optionsHelp: "[options [...]] imageNameOrID oci:DIR[:REF] | oci-archive:FILE[:REF]",
    usage: "Export an image to an OCI layout or OCI archive",
    minArgs: 2,
    maxArgs: 2,
    flags: [str("compression", ["-compression"], "Layer compression: auto, none, gzip or zstd")],
    load: () => import("./export_image.ts"),
  },
  {
    names: ["layer"],
    optionsHelp: "[options [...]] layerNameOrID [...]",
    usage: "Examine a layer",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: layersMod,
  },
  {
    names: ["layer-parent-owners"],
    optionsHelp: "[options [...]] layerNameOrID [...]",
    usage: "Compute the set of unmapped parent UIDs and GIDs of the layer",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: layersMod,
  },
  ...dataCommands("layer"),
  {
    names: ["layers"],
    optionsHelp: "[options [...]]",
    usage: "List layers",
    minArgs: 0,
    maxArgs: 0,
    flags: [
      JSON_FLAG,
      bool("tree", ["-tree", "t"], "Use a tree"),
      bool("quiet", ["-quiet", "q"], "Only print IDs"),
    ],
    load: layersMod,
  },
  {
    names: ["storage-layers"],
    optionsHelp: "[options [...]]",
    usage: "List layers in the storage driver",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: layersMod,
  },
  {
    names: ["metadata"],
    optionsHelp: "[LayerOrImageOrContainerNameOrID [...]]",
    usage: "Retrieve layer, image, or container metadata",
    minArgs: 1,
    maxArgs: -1,
    flags: [bool("quiet", ["-quiet", "q"], "Omit names and IDs"), JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["set-metadata", "setmetadata"],
    optionsHelp: "[options [...]] layerOrImageOrContainerNameOrID",
    usage: "Set layer, image, or container metadata",
    minArgs: 1,
    maxArgs: 1,
    flags: [
      str("metadata", ["-metadata", "m"], "Metadata"),
      str("metadataFile", ["-metadata-file", "f"], "Metadata File"),
    ],
    load: namesMod,
  },
  {
    names: ["mount"],
    optionsHelp: "[options [...]] LayerOrContainerNameOrID",
    usage: "Mount a layer or container",
    minArgs: 1,
    maxArgs: -1,
    flags: [
      str("label", ["-label", "l"], "Mount Label"),
      str("opt", ["-opt", "o"], "Mount Options"),
      bool("ro", ["-ro", "r", "-read-only"], "Mount image readonly"),
      JSON_FLAG,
    ],
    load: mountMod,
  },
  {
    names: ["unmount", "umount"],
    optionsHelp: "LayerOrContainerNameOrID",
    usage: "Unmount an image, layer or container",
    minArgs: 1,
    maxArgs: -1,
    flags: [bool("force", ["-force", "f"], "Force the umount"), JSON_FLAG],
    load: mountMod,
  },
  {
    names: ["mounted"],
    optionsHelp: "LayerOrContainerNameOrID",
    usage: "Check if a file system is mounted",
    minArgs: 1,
    maxArgs: -1,
    flags: [JSON_FLAG],
    load: mountMod,
  },
  {
    names: ["get-names", "getnames"],
    optionsHelp: "[options [...]] imageOrContainerNameOrID",
    usage: "Get layer, image, or container name or names",
    minArgs: 1,
    maxArgs: 1,
    flags: [JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["add-names", "addnames"],
    optionsHelp: "[options [...]] imageOrContainerNameOrID",
    usage: "Add layer, image, or container name or names",
    minArgs: 1,
    maxArgs: 1,
    flags: [list("name", ["-name", "n"], "New name"), JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["set-names", "setnames"],
    optionsHelp: "[options [...]] imageOrContainerNameOrID",
    usage: "Set layer, image, or container name or names",
    minArgs: 1,
    maxArgs: 1,
    flags: [list("name", ["-name", "n"], "New name"), JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["remove-names", "removenames"],
    optionsHelp: "[options [...]] imageOrContainerNameOrID",
    usage: "Remove layer, image, or container name or names",
    minArgs: 1,
    maxArgs: 1,
    flags: [list("name", ["-name", "n"], "Name to remove"), JSON_FLAG],
    load: namesMod,
  },
  {
    names: ["shutdown"],
    optionsHelp: "",
    usage: "Shut down layer storage",
    minArgs: 0,
    maxArgs: 0,
    flags: [bool("force", ["-force", "f"], "Unmount mounted layers first"), JSON_FLAG],
    load: maintMod,
  },
  {
    names: ["status"],
    optionsHelp: "",
    usage: "Check on graph driver status",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: maintMod,
  },
  {
    names: ["version"],
    optionsHelp: "",
    usage: "Return containers-storage version information",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: maintMod,
  },
  {
    names: ["wipe"],
    optionsHelp: "",
    usage: "Wipe all layers, images, and containers",
    minArgs: 0,
    maxArgs: 0,
    flags: [JSON_FLAG],
    load: maintMod,
  },
];

/** Finds a command by exact name or alias. */
export function findCommand(word: string): Command | undefined {
  return COMMANDS.find((c) => c.names.includes(word));
}

/**
 * Names of the commands the 1.43 reference binary lacks: upstream HEAD's, and this
 * project's own `import-image` and `export-image`.
 */
export const HEAD_ONLY_COMMANDS: readonly string[] = [
  "import-image",
  "export-image",
  "check",
  "config",
  "create-storage-layer",
  "dedup",
  "gc",
  "get-image-dir",
  "get-image-run-dir",
  "storage-layers",
  "remove-names",
];
