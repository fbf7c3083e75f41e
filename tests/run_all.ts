/**
 * Runs the whole test suite (`deno task test`) and ends with the line CI reads:
 * `N passed, N failed`. Extra arguments are passed to `deno test` (e.g. a file filter).
 */
const junit = await Deno.makeTempFile({ prefix: "cs-junit-", suffix: ".xml" });
const args = ["test", "-A", "--no-check=remote", `--junit-path=${junit}`, ...Deno.args];
const child = new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" }).spawn();
const status = await child.status;

let passed = 0;
let failed = 0;
try {
  const xml = await Deno.readTextFile(junit);
  // One <testcase> per test; a failed one contains <failure>. Steps are not counted separately.
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    if (m[2] && /<failure\b/.test(m[2])) failed++;
    else passed++;
  }
} catch {
  // No report at all: the run itself broke (type error, crash).
}
await Deno.remove(junit).catch(() => {});
if (!status.success && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status.success ? 0 : 1);
