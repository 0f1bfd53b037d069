# Shared by scripts/run and scripts/test: make sure the locked Python environment exists.
# uv installs exactly what uv.lock pins; it is itself installed with pip if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION=0.13.9
export PATH="$HOME/.local/bin:$PATH"  # where a user install of uv lands
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user "uv==${UV_VERSION}" 2>/dev/null \
    || python3 -m pip install --quiet "uv==${UV_VERSION}"
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --quiet --python python3
export PATH="$ROOT/.venv/bin:$PATH"
