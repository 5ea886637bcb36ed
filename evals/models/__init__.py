"""The evals app's models, one module per concern: prompts (Prompt, PromptVersion,
labels, served A/B tests), evaluation (Evaluator, EvalRun, EvalResult),
datasets (Dataset, DatasetItem), experiments (Experiment, its items,
variants, runs, results and scores) and annotation (score configs, queues,
items, annotations). Django finds them all through this package."""
from evals.models.prompts import *  # noqa: F401,F403
from evals.models.evaluation import *  # noqa: F401,F403
from evals.models.datasets import *  # noqa: F401,F403
from evals.models.experiments import *  # noqa: F401,F403
from evals.models.annotation import *  # noqa: F401,F403
