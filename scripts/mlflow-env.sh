# Sourced by scripts/test: the MLflow server environment the import tests start servers from
# (tests/registry/mlflow/requirements.txt), made once in the user's cache (outside the checkout, so
# no tool of ours scans it) and remade when the pins change.
MLFLOW_ENV="${XDG_CACHE_HOME:-$HOME/.cache}/assay/mlflow-server"
mlflow_pins="$(sha256sum "$ROOT/tests/registry/mlflow/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$MLFLOW_ENV/.pins" 2>/dev/null)" != "$mlflow_pins" ]; then
  echo "== MLflow server environment for the import tests ($MLFLOW_ENV)"
  rm -rf "$MLFLOW_ENV"
  uv venv --quiet --python python3 "$MLFLOW_ENV"
  VIRTUAL_ENV="$MLFLOW_ENV" uv pip install --quiet -r "$ROOT/tests/registry/mlflow/requirements.txt"
  echo "$mlflow_pins" > "$MLFLOW_ENV/.pins"
fi
export ASSAY_TEST_MLFLOW_BIN="$MLFLOW_ENV/bin"
