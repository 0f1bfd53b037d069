"""Run by the MLflow server environment's Python (not by pytest): registers the models the import
tests read, through MLflow's own client, so the registry looks as a real one does.

credit-pd: an ONNX-flavor logistic regression with a description, Assay tags, a run metric and
the alias "champion" on version 1. churn: a scikit-learn-flavor model, no description, no tags.
"""

import sys

import mlflow
import mlflow.onnx
import mlflow.sklearn
import numpy as np
from mlflow import MlflowClient
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

mlflow.set_tracking_uri(sys.argv[1])
X = np.random.RandomState(0).rand(60, 3).astype(np.float32)
y = (X[:, 0] > 0.5).astype(int)
classifier = LogisticRegression().fit(X, y)
graph = to_onnx(classifier, X[:1], options={id(classifier): {"zipmap": False}})

with mlflow.start_run():
    mlflow.log_metric("auc", 0.91)
    mlflow.onnx.log_model(graph, name="model", registered_model_name="credit-pd")
with mlflow.start_run():
    mlflow.log_metric("auc", 0.88)
    mlflow.sklearn.log_model(classifier, name="model", registered_model_name="churn")

client = MlflowClient()
client.update_registered_model("credit-pd", description="Probability of default, retail loans.")
client.set_registered_model_tag("credit-pd", "assay.task", "binary_classification")
client.set_registered_model_tag("credit-pd", "assay.decision_type", "credit")
client.set_registered_model_alias("credit-pd", "champion", "1")
client.set_model_version_tag("credit-pd", "1", "reviewed", "no")
print("populated")
