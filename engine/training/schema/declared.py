"""Every setting of a document's `training` section, declared once.

The trainers read their defaults from here (through `engine.training.settings`
and `engine.training.setup`), so a default changes in this file and nowhere
else. The task names are the trainer registry's keys (`engine.training.TRAINERS`;
a test keeps the two equal) without importing a trainer.
"""

from __future__ import annotations

from engine.training.schema.spec import Section, Setting

# task -> one line: what its trainer does. The order is the Training tab's.
TASKS: dict[str, str] = {
    "classification": "predict one class per sample (cross-entropy on N×C scores)",
    "regression": "predict numbers per sample (mean squared error by default)",
    "sequence": "predict one token class per step of a sequence",
    "autoencoder": "reconstruct the input from the network's output",
    "gan": "a generator against a discriminator (networks `generator`, `discriminator`)",
    "dqn": "deep Q-learning on a gymnasium environment (network `q_network`)",
    "q_learning": "tabular Q-learning with a bias-free Linear as the Q-table",
    "node_classification": "predict a class per node of a graph (GraphConv or GATConv networks)",
    "perceptron": "Rosenblatt's perceptron rule on Input → Linear → Step → Output",
}

GRADIENT = ("classification", "regression", "sequence", "autoencoder", "gan", "dqn",
            "node_classification")  # the tasks that train with a torch optimizer
SUPERVISED = ("classification", "regression", "sequence", "autoencoder")
BATCHED = (*SUPERVISED, "gan", "dqn", "perceptron")
LOSSES = ("cross_entropy", "nll", "mse", "bce", "bce_logits", "l1", "huber")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "exponential")
UNIT = {"low": 0.0, "high": 1.0}

TOP: tuple[Setting, ...] = (
    Setting("task", "choice", "classification", "what is trained, and so which trainer runs",
            choices=tuple(TASKS)),
    Setting("dataset", "dataset", None, "a registered dataset's name, or {\"name\": ..., "
            "options}; own files are csv, npz or image_folder with a path"),
    Setting("loss", "choice", "cross_entropy", "how the output is compared with the target",
            choices=LOSSES, tasks=(*SUPERVISED, "gan", "dqn", "node_classification"),
            by_task={"regression": "mse", "autoencoder": "mse", "gan": None, "dqn": "huber"},
            task_choices={"classification": LOSSES[:-1], "regression": LOSSES[:-1],
                          "sequence": LOSSES[:-1], "autoencoder": LOSSES[:-1],
                          "gan": ("bce", "bce_logits"), "dqn": ("huber", "mse"),
                          "node_classification": ("cross_entropy", "nll")},
            computed="gan: bce after a Sigmoid, else bce_logits"),
    Setting("epochs", "int", 10, "passes over the training data (episodes for dqn and "
            "q_learning)", low=1),
    Setting("batch_size", "int", 64, "samples per optimisation step (the perceptron's "
            "chunk of samples per update pass)", low=1, tasks=BATCHED, by_task={"perceptron": 32}),
    Setting("seed", "int", 0, "seeds weights, shuffling, splits and environments; "
            "a CPU run repeats exactly", low=0),
    Setting("device", "device", "auto", "where to train: auto picks CUDA, then MPS, then CPU"),
    Setting("processes", "int", 1, "training processes on this machine (torchrun + DDP, "
            "batch_size stays the global batch); GAN and RL train on one", low=1,
            tasks=(*SUPERVISED, "node_classification")),
    Setting("precision", "choice", "fp32", "number format of forward passes: bf16 (CPU, CUDA) "
            "and fp16 (CUDA, with a GradScaler) run under torch.autocast; weights stay fp32",
            choices=("fp32", "bf16", "fp16")),
    Setting("compile", "bool", False, "run the networks through torch.compile (falls back to "
            "eager, with a note, where no backend is available)"),
)

OPTIMIZER = Section("optimizer", "the torch.optim optimizer (a bare name is shorthand for "
                    "{\"name\": ...})", shorthand="name", tasks=(*GRADIENT, "perceptron"), settings=(
    Setting("name", "choice", "adam", "which torch.optim optimizer", section="optimizer",
            choices=OPTIMIZERS, tasks=GRADIENT, label="Name", fold_case=True),
    Setting("lr", "float", 0.001, "learning rate (the perceptron's rule rate when "
            "training.perceptron.lr is absent, default 1.0 there)", section="optimizer",
            low=0.0, open_low=True, label="Learning rate", by_task={"perceptron": 1.0}),
    Setting("weight_decay", "float", 0.0, "L2 penalty (AdamW's decoupled decay)",
            section="optimizer", low=0.0, tasks=GRADIENT, by_name={"adamw": 0.01}),
    Setting("momentum", "float", 0.0, "momentum factor", section="optimizer", low=0.0,
            tasks=GRADIENT, names=("sgd", "rmsprop")),
    Setting("nesterov", "bool", False, "Nesterov momentum (needs momentum > 0)",
            section="optimizer", tasks=GRADIENT, names=("sgd",)),
    Setting("betas", "floats", (0.9, 0.999), "decay rates of the first and second moment "
            "averages", section="optimizer", low=0.0, high=1.0, open_high=True, length=2,
            tasks=GRADIENT, names=("adam", "adamw")),
))

LR_SCHEDULE = Section("lr_schedule", "an epoch-wise learning-rate schedule (torch.optim."
                      "lr_scheduler); a bare name is shorthand", shorthand="name",
                      tasks=(*SUPERVISED, "node_classification"), label="LR schedule", settings=(
    Setting("name", "choice", "none", "none keeps the rate constant; cosine anneals to 0 "
            "over the run", section="lr_schedule", choices=SCHEDULES, label="Name",
            fold_case=True),
    Setting("step_size", "int", 10, "epochs between two steps of the rate",
            section="lr_schedule", low=1, names=("step",)),
    Setting("gamma", "float", 0.5, "factor the rate is multiplied by (per step, or per epoch "
            "for exponential)", section="lr_schedule", low=0.0, open_low=True,
            names=("step", "exponential"), by_name={"exponential": 0.95}),
))

AUGMENT = Section("augment", "on-the-fly data augmentation of image batches",
                  tasks=SUPERVISED, settings=(
    Setting("shift", "int", 0, "largest random translation in pixels, per sample (images "
            "only)", section="augment", low=0),
))


DATA = Section("data", "how samples reach the network: in memory, or streamed batch by "
               "batch from disk (docs/scale.md)", tasks=SUPERVISED, settings=(
    Setting("streaming", "bool", None, "read batches from disk with a DataLoader instead of "
            "holding the dataset in memory", section="data", tasks=SUPERVISED,
            computed="streams when the decoded samples exceed 1 GiB"),
    Setting("workers", "int", 0, "DataLoader worker processes reading streamed batches "
            "(0: the training process reads them)", section="data", low=0, tasks=SUPERVISED),
))


def _dqn(key: str, kind: str, default, doc: str, **more) -> Setting:
    return Setting(key, kind, default, doc, section="dqn", tasks=("dqn",), **more)


DQN = Section("dqn", "deep Q-learning (Mnih et al. 2015) with a replay buffer and a "
              "target network", tasks=("dqn",), label="DQN", settings=(
    _dqn("episodes", "int", None, "episodes to run", low=1, computed="training.epochs"),
    _dqn("gamma", "float", 0.99, "discount factor of future rewards", **UNIT),
    _dqn("epsilon_start", "float", 1.0, "exploration rate at the start", **UNIT),
    _dqn("epsilon_end", "float", 0.02, "exploration rate after the decay", **UNIT),
    _dqn("epsilon_decay_steps", "int", 5_000, "environment steps over which epsilon falls "
         "linearly", low=1),
    _dqn("buffer_size", "int", 50_000, "transitions the replay buffer keeps", low=1),
    _dqn("batch_size", "int", None, "transitions per gradient step", low=1,
         computed="training.batch_size, else 64"),
    _dqn("learning_starts", "int", 1_000, "environment steps before the first update", low=0),
    _dqn("target_update", "int", 500, "steps between hard copies to the target network "
         "(used when tau is absent and this is set)", low=1),
    _dqn("tau", "float", 0.01, "soft (Polyak) target update rate per gradient step", **UNIT),
    _dqn("train_every", "int", 2, "environment steps per round of updates", low=1),
    _dqn("gradient_steps", "int", 1, "gradient steps per round of updates", low=1),
    _dqn("double", "bool", True, "Double DQN: the online network picks the next action"),
    _dqn("loss", "choice", None, "TD-error loss", choices=("huber", "mse"),
         computed="training.loss when it is huber or mse, else huber"),
    _dqn("grad_clip", "float", 10.0, "largest gradient norm (0 turns clipping off)", low=0.0),
    _dqn("eval_episodes", "int", 20, "greedy episodes per evaluation", low=1),
    _dqn("solve_window", "int", 10, "episodes averaged to decide the task is solved", low=1),
    _dqn("eval_every", "int", 10, "episodes between evaluations (0: never)", low=0),
    _dqn("reward_threshold", "float", None, "mean evaluation reward that counts as solved",
         computed="the environment's reward threshold"),
    _dqn("log_every", "int", 50, "gradient steps per Step event", low=1),
    _dqn("keep_best", "bool", True, "keep the weights of the best evaluation"),
))


def _q(key: str, kind: str, default, doc: str, **more) -> Setting:
    return Setting(key, kind, default, doc, section="q_learning", tasks=("q_learning",), **more)


Q_LEARNING = Section("q_learning", "tabular Q-learning (Watkins 1989) on a discrete "
                     "environment", tasks=("q_learning",), label="Q-learning", settings=(
    _q("episodes", "int", None, "episodes to run", low=1, computed="training.epochs"),
    _q("alpha", "float", 0.1, "step size of each update", **UNIT),
    _q("alpha_end", "float", None, "step size at the last episode, reached linearly",
       computed="alpha (constant)", **UNIT),
    _q("gamma", "float", 0.99, "discount factor of future rewards", **UNIT),
    _q("epsilon_start", "float", 1.0, "exploration rate at the start", **UNIT),
    _q("epsilon_end", "float", 0.01, "lowest exploration rate", **UNIT),
    _q("epsilon_decay", "float", 0.999, "epsilon is multiplied by this every episode", **UNIT),
    _q("eval_episodes", "int", 1000, "greedy episodes in the final evaluation", low=1),
    _q("report_every", "int", None, "episodes per Episode event", low=1,
       computed="episodes / 1000, at least 1"),
    _q("init", "choice", "zeros", "the Q-table's start: zeros, or the Linear's random "
       "initialisation", choices=("zeros", "random")),
))


def _gan(key: str, kind: str, default, doc: str, **more) -> Setting:
    return Setting(key, kind, default, doc, section="gan", tasks=("gan",), **more)


GAN = Section("gan", "generative adversarial training (Goodfellow et al. 2014)",
              tasks=("gan",), label="GAN", settings=(
    _gan("d_steps", "int", 1, "discriminator steps per generator step", low=1),
    _gan("real_label", "float", 1.0, "target for real samples (< 1: label smoothing)",
         low=0.5, high=1.0),
    _gan("sample_every", "int", 0, "steps between Samples events (0: one per epoch)", low=0),
    _gan("samples", "int", None, "samples drawn from the fixed noise for display", low=1,
         computed="512 for 2-D points, else 16"),
    _gan("samples_from", "choice", "all", "the samples the GAN learns from",
         choices=("all", "train")),
    _gan("scale", "choice", "auto", "map real data from [0, 1] to Tanh's [-1, 1]: auto does "
         "when the generator ends in Tanh", choices=("auto", "tanh", "none")),
    _gan("optimizers", "object", None, "an optimizer object per network (generator, "
         "discriminator), overriding training.optimizer", computed="training.optimizer"),
))

PERCEPTRON = Section("perceptron", "Rosenblatt's perceptron rule (1958)",
                     tasks=("perceptron",), settings=(
    Setting("lr", "float", 1.0, "the rule's rate", section="perceptron", low=0.0,
            tasks=("perceptron",), computed="training.optimizer.lr, else 1.0"),
    Setting("init", "choice", "zeros", "start from zero weights (seed-free) or the "
            "Linear's random initialisation", section="perceptron",
            choices=("zeros", "random"), tasks=("perceptron",)),
))

EPOCHWISE = (*SUPERVISED, "node_classification")  # the tasks whose epochs have a validation

EARLY_STOPPING = Section("early_stopping", "stop when the validation metric has not improved "
                         "for `patience` epochs, keeping the best epoch's weights",
                         tasks=EPOCHWISE, settings=(
    Setting("patience", "int", 0, "epochs without improvement before training stops "
            "(0: never stop early)", section="early_stopping", low=0, tasks=EPOCHWISE),
    Setting("metric", "choice", "val_loss", "what must improve: the validation loss (lower) "
            "or accuracy (higher)", section="early_stopping",
            choices=("val_loss", "val_accuracy"), tasks=EPOCHWISE),
    Setting("min_delta", "float", 0.0, "the least change that counts as an improvement",
            section="early_stopping", low=0.0, tasks=EPOCHWISE, label="Min. delta"),
))

SECTIONS: dict[str, Section] = {
    s.name: s for s in (OPTIMIZER, LR_SCHEDULE, EARLY_STOPPING, AUGMENT, DATA, DQN, Q_LEARNING,
                        GAN, PERCEPTRON)
}
TOP_SETTINGS: dict[str, Setting] = {s.key: s for s in TOP}
