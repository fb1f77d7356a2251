"""Reinforcement learning for networked systems: environments, policies, critics, GSAC.

The main entry points are re-exported here: the trainer (:mod:`rl.gsac`), the
algorithm registry (:mod:`rl.algorithms`) and zero-shot adaptation with its
curves (:mod:`rl.adaptation`). Environments live in :mod:`rl.envs`, policies in
:mod:`rl.policies`, metrics in :mod:`rl.evaluation`.
"""

from rl.adaptation import (AdaptationCurves, MethodCurve, TrainingSummary, adaptation_curves, deploy_zero_shot,
                           estimate_target_factor, mean_ci, summarize_training, zero_shot)
from rl.algorithms import ALGORITHM_DESCRIPTIONS, ALGORITHMS, algorithm_config, make_trainer
from rl.gsac import GSACConfig, GSACResult, GSACTrainer, train_gsac

__all__ = ["ALGORITHMS", "ALGORITHM_DESCRIPTIONS", "AdaptationCurves", "GSACConfig", "GSACResult", "GSACTrainer",
           "MethodCurve", "TrainingSummary", "adaptation_curves", "algorithm_config", "deploy_zero_shot",
           "estimate_target_factor", "make_trainer", "mean_ci", "summarize_training", "train_gsac", "zero_shot"]
