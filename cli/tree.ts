/**
 * The `layers --tree` rendering (cli.md 2.1.1), as Go's printTree draws it,
 * with ties between candidate roots broken by first appearance instead of Go's
 * random map order.
 *
 * @module
 */

/** One edge of the tree: parent (or `(base)`), layer, and note lines. */
export interface TreeNode {
  /** Parent ID, `(base)` for a parentless layer. */
  left: string;
  /** The layer ID. */
  right: string;
  /** Lines printed under the layer. */
  notes: string[];
}

/** Among parents that are not themselves nodes, the one with the fewest children. */
function selectRoot(nodes: TreeNode[]): string {
  const children = new Map<string, number>();
  const areChildren = new Set(nodes.map((n) => n.right));
  for (const n of nodes) children.set(n.left, (children.get(n.left) ?? 0) + 1);
  let favorite: string | null = null;
  for (const [left, count] of children) {
    if (areChildren.has(left)) continue;
    if (favorite === null || count < children.get(favorite)!) favorite = left;
  }
  return favorite ?? "";
}

function printSubTree(
  root: string,
  nodes: TreeNode[],
  indent: number,
  continued: number[],
  lines: string[],
): TreeNode[] {
  let leftovers: TreeNode[] = [];
  const children: TreeNode[] = [];
  for (const n of nodes) (n.left === root ? children : leftovers).push(n);
  children.forEach((child, i) => {
    const prefix = Array.from({ length: indent }, (_, col) => (continued.includes(col) ? "│" : " ")).join("");
    const more = i < children.length - 1;
    lines.push(`${prefix}${more ? "├" : "└"}─${child.right}`);
    for (const note of child.notes) lines.push(`${prefix}${more ? "│" : " "} ${note}`);
    leftovers = printSubTree(
      child.right,
      leftovers,
      indent + 2,
      more ? [...continued, indent] : continued,
      lines,
    );
  });
  return leftovers;
}

/** Renders the nodes as text lines (each ending in a newline). */
export function renderTree(input: TreeNode[]): string {
  const lines: string[] = [];
  let nodes = input;
  while (nodes.length > 0) {
    const root = selectRoot(nodes);
    lines.push(root);
    const before = nodes.length;
    nodes = printSubTree(root, nodes, 0, [], lines);
    // A cycle leaves nothing printable; Go stops there too.
    if (nodes.length === before) break;
  }
  return lines.map((l) => l + "\n").join("");
}
