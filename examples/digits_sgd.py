"""Digits with scikit-learn's SGDClassifier, trained epoch by epoch with early stopping.

One `partial_fit` pass over the training set per epoch, validation accuracy reported after
each; the coordinator's pruner stops hopeless trials. Maximize the returned accuracy:

    hpo sweep examples/digits_sgd.py:objective --study digits --direction maximize \\
        --trials 60 --workers 2 --pruner successive_halving

The data loads once per worker process (at import), not once per trial. Each trial records
the data it trained on (a content hash) and uploads its model, so the best one can be
registered: `hpo models register digits-clf --study digits`.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import optuna
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

EPOCHS = int(os.environ.get("HPO_DIGITS_EPOCHS", "30"))

_X, _y = load_digits(return_X_y=True)
_X_train, _X_val, y_train, y_val = train_test_split(
    _X, _y, test_size=0.25, random_state=0, stratify=_y
)
_scaler = StandardScaler().fit(_X_train)
X_train, X_val = _scaler.transform(_X_train), _scaler.transform(_X_val)
CLASSES = np.unique(_y)


def suggest_classifier(trial) -> SGDClassifier:
    """The search space: an SGD linear classifier's loss, penalty and step sizes."""
    return SGDClassifier(
        loss=trial.suggest_categorical("loss", ["hinge", "log_loss", "modified_huber"]),
        penalty=trial.suggest_categorical("penalty", ["l2", "l1", "elasticnet"]),
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        learning_rate="invscaling",
        eta0=trial.suggest_float("eta0", 1e-4, 1.0, log=True),
        random_state=0,
    )


def objective(trial) -> float:
    """Validation accuracy of an SGD linear classifier after up to EPOCHS epochs."""
    trial.log_data(_X, name="digits-features")
    trial.log_data(_y, name="digits-labels")
    clf = suggest_classifier(trial)
    rng = np.random.default_rng(trial.number)
    accuracy = 0.0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(X_train))
        clf.partial_fit(X_train[order], y_train[order], classes=CLASSES)
        accuracy = float(clf.score(X_val, y_val))
        trial.report(accuracy, epoch)
        if trial.should_prune():
            trial.log_metric("val_accuracy", accuracy, step=epoch)
            raise optuna.TrialPruned()
    trial.log_metric("val_accuracy", accuracy, step=EPOCHS - 1)
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "model.pkl"
        model.write_bytes(pickle.dumps({"scaler": _scaler, "classifier": clf}))
        trial.log_artifact(model)
    return accuracy
