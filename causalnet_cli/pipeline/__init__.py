"""The full GSAC pipeline behind ``causalnet run``: configuration, stages, resumable run folders.

>>> from causalnet_cli.pipeline import RunConfig, stage_names
>>> stage_names(RunConfig())[:4]
['collect', 'discover', 'acr', 'domain_factors']
"""

from causalnet_cli.pipeline.config import (ConfigError, RunConfig, config_from_dict, config_to_dict,
                                           config_to_toml, describe_config, load_config, quick_config)
from causalnet_cli.pipeline.runner import RunSummary, run_pipeline
from causalnet_cli.pipeline.stages import build_environment, stage_names
from causalnet_cli.pipeline.state import RunFolder, RunFolderError

__all__ = ["ConfigError", "RunConfig", "RunFolder", "RunFolderError", "RunSummary", "build_environment",
           "config_from_dict", "config_to_dict", "config_to_toml", "describe_config", "load_config",
           "quick_config", "run_pipeline", "stage_names"]
