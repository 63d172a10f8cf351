// Generates src/gen/ (TypeScript message types) from the repository's proto/ with Debian's
// `protoc` and the locally installed protoc-gen-es. The output is not committed.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = resolve(root, "../../proto");
const protoDir = join(protoRoot, "mend/v1");
const outDir = join(root, "src/gen");
const plugin = join(root, "node_modules/.bin/protoc-gen-es");

const protos = readdirSync(protoDir)
  .filter((name) => name.endsWith(".proto"))
  .map((name) => join(protoDir, name));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
try {
  execFileSync(
    process.env.PROTOC ?? "protoc",
    [
      `--plugin=protoc-gen-es=${plugin}`,
      `--es_out=${outDir}`,
      "--es_opt=target=ts,import_extension=js",
      `-I${protoRoot}`,
      ...protos,
    ],
    { stdio: "inherit" },
  );
} catch (error) {
  console.error("generate: protoc failed (is Debian's protobuf-compiler installed?)");
  throw error;
}
