"""A torch MLP trainer on generated data: on the trial's GPU when it has one, else the CPU.

Data: a fixed random "teacher" network labels Gaussian inputs (nothing is downloaded).
Validation accuracy is reported every epoch, so the coordinator's pruner can stop a trial.

    pip install torch==2.13.0   # CPU build on these machines; any CUDA build on a GPU host
    hpo sweep examples/torch_mlp.py:objective --study mlp --direction maximize \\
        --trials 40 --workers 4 --gpus-per-trial 0.25

Sizes come from the environment: HPO_MLP_SAMPLES (default 20000), HPO_MLP_EPOCHS (8).
"""

from __future__ import annotations

import os
from functools import cache

import optuna
import torch
from torch import nn

SAMPLES = int(os.environ.get("HPO_MLP_SAMPLES", "20000"))
EPOCHS = int(os.environ.get("HPO_MLP_EPOCHS", "8"))
FEATURES, CLASSES = 64, 10


def device_for(trial) -> str:
    """The GPU when this process can use one (an hpo worker holding a GPU sees only its own,
    through CUDA_VISIBLE_DEVICES), else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@cache
def dataset(device: str) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    teacher = nn.Sequential(nn.Linear(FEATURES, 128), nn.Tanh(), nn.Linear(128, CLASSES))
    for parameter in teacher.parameters():
        parameter.data = torch.randn(parameter.shape, generator=generator)
    x = torch.randn(SAMPLES, FEATURES, generator=generator)
    with torch.no_grad():
        y = teacher(x).argmax(dim=1)
    cut = SAMPLES * 4 // 5
    return tuple(t.to(device) for t in (x[:cut], y[:cut], x[cut:], y[cut:]))


def build(width: int, depth: int, dropout: float) -> nn.Module:
    layers: list[nn.Module] = []
    size = FEATURES
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, CLASSES))


def objective(trial) -> float:
    """Validation accuracy after up to EPOCHS epochs of Adam."""
    device = device_for(trial)
    x_train, y_train, x_val, y_val = dataset(device)
    model = build(
        trial.suggest_int("width", 32, 1024, log=True),
        trial.suggest_int("depth", 1, 4),
        trial.suggest_float("dropout", 0.0, 0.3),
    ).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=trial.suggest_float("lr", 1e-4, 3e-2, log=True)
    )
    batch = trial.suggest_categorical("batch_size", [128, 256, 512, 1024])
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(trial.number)
    accuracy = 0.0
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train), device=device)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
        trial.report(accuracy, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return accuracy


if __name__ == "__main__":
    import hpo

    study = hpo.create_study("torch-mlp", direction="maximize", load_if_exists=True)
    study.optimize(objective, n_trials=10, show_progress_bar=True)
    print("best:", study.best_trial.value, study.best_trial.params)
